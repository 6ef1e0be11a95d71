-- SCIM API keys (issue 18, SPEC §5): kps_ keys are ApiKey rows of kind SCIM (the enum value exists
-- since init), managed in the team settings; /scim/v2 is off until an admin turns it on.
ALTER TABLE "Team" ADD COLUMN "scimEnabled" BOOLEAN NOT NULL DEFAULT false;

-- Members as an identity provider sees them: active (a deactivated member's personal keys no
-- longer authenticate), the provider's externalId, and a tombstone for a deleted member (kept for
-- the history of its keys; teamMembers shows it only with includeInactive). Each change of these
-- columns reaches the verification cache through the User trigger of caller_change_notify.
ALTER TABLE "User" ADD COLUMN "active" BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE "User" ADD COLUMN "externalId" TEXT;
ALTER TABLE "User" ADD COLUMN "deletedAt" TIMESTAMPTZ(3);
