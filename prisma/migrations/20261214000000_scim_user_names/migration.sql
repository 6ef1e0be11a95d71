-- SCIM Users (issue 18): the core schema's name.givenName / name.familyName as the identity
-- provider sends them (Okta requires both; the member's name stays the displayName), and the
-- member's last change, for meta.lastModified.
ALTER TABLE "User" ADD COLUMN "givenName" TEXT;
ALTER TABLE "User" ADD COLUMN "familyName" TEXT;
ALTER TABLE "User" ADD COLUMN "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;
