-- CreateTable
CREATE TABLE "SettingsChange" (
    "id" TEXT NOT NULL,
    "teamId" TEXT NOT NULL,
    "actorId" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "before" JSONB NOT NULL,
    "after" JSONB NOT NULL,

    CONSTRAINT "SettingsChange_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "SettingsChange_teamId_createdAt_idx" ON "SettingsChange"("teamId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "ApiKey_teamId_kind_lastUsedAt_id_idx" ON "ApiKey"("teamId", "kind", "lastUsedAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "ApiKey_expiresAt_idx" ON "ApiKey"("expiresAt");

-- AddForeignKey
ALTER TABLE "SettingsChange" ADD CONSTRAINT "SettingsChange_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SettingsChange" ADD CONSTRAINT "SettingsChange_actorId_fkey" FOREIGN KEY ("actorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
