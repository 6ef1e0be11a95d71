-- Rotation with overlap (SPEC §5): a regenerated key's previous secret may keep working until
-- previousSecretExpiresAt. One previous hash per key (regenerating during an overlap ends the
-- older secret); it is cleared when the key is disabled or revoked, so re-enabling revives only
-- the new secret. Lookups by hash fall back to previousHash: unique (a secret belongs to one key)
-- and indexed, only where set (most keys have none). The key-change trigger needs no change: a
-- regeneration changes "hash", which it announces already; listeners re-read the overlap.
-- lastUsedFrom: the client address of the last use, written with lastUsedAt by the same flush.
ALTER TABLE "ApiKey"
  ADD COLUMN "previousHash" TEXT,
  ADD COLUMN "previousSecretExpiresAt" TIMESTAMPTZ(3),
  ADD COLUMN "lastUsedFrom" TEXT;

CREATE UNIQUE INDEX "ApiKey_previousHash_key" ON "ApiKey"("previousHash") WHERE "previousHash" IS NOT NULL;
