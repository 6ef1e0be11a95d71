-- CreateTable
CREATE TABLE "ApiKeyExposure" (
    "id" TEXT NOT NULL,
    "keyId" TEXT NOT NULL,
    "teamId" TEXT NOT NULL,
    "location" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "detectedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolvedAt" TIMESTAMPTZ(3),
    "ignoredAt" TIMESTAMPTZ(3),

    CONSTRAINT "ApiKeyExposure_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ApiKeyExposure_teamId_detectedAt_idx" ON "ApiKeyExposure"("teamId", "detectedAt" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "ApiKeyExposure_keyId_location_key" ON "ApiKeyExposure"("keyId", "location");

-- AddForeignKey
ALTER TABLE "ApiKeyExposure" ADD CONSTRAINT "ApiKeyExposure_keyId_fkey" FOREIGN KEY ("keyId") REFERENCES "ApiKey"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
