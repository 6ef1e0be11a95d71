-- Keys revoked because their collection was deleted (SPEC §5), or their owner deprovisioned (SCIM).
ALTER TYPE "RevocationReason" ADD VALUE 'COLLECTION_DELETED';
ALTER TYPE "RevocationReason" ADD VALUE 'DEPROVISIONED';
