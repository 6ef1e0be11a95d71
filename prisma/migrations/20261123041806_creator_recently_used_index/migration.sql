-- CreateIndex
CREATE INDEX "ApiKey_createdById_lastUsedAt_id_idx" ON "ApiKey"("createdById", "lastUsedAt" DESC, "id" DESC);
