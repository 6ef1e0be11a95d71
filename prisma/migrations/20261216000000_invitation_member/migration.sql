-- Invitations of existing members (issue 18, SPEC §5): a member provisioned by SCIM, or
-- reactivated, has no key; an admin's invitation for them is bound to that member, so that
-- accepting it gives THAT member (same id, same role) a first key, even if another member took
-- the address meanwhile. NULL for the invitation of a new member.
ALTER TABLE "Invitation" ADD COLUMN "userId" TEXT;
ALTER TABLE "Invitation" ADD CONSTRAINT "Invitation_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;
CREATE INDEX "Invitation_userId_idx" ON "Invitation"("userId");
