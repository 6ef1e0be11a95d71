-- SCIM Groups (issue 18): the identity provider's groups of a team's members. displayName is
-- unique per team case-insensitively (the functional index: Prisma cannot declare it, the service
-- answers 409 before it and on a race). A group named "Keyplane Admins" grants TEAM_ADMIN to its
-- members (src/scim/group-roles.ts); role changes reach the verification cache through the User
-- trigger of caller_change_notify.
CREATE TABLE "ScimGroup" (
  "id" TEXT NOT NULL,
  "teamId" TEXT NOT NULL,
  "displayName" TEXT NOT NULL,
  "externalId" TEXT,
  "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "ScimGroup_pkey" PRIMARY KEY ("id"),
  CONSTRAINT "ScimGroup_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "ScimGroup_teamId_displayName_key" ON "ScimGroup" ("teamId", lower("displayName"));
CREATE INDEX "ScimGroup_teamId_createdAt_id_idx" ON "ScimGroup" ("teamId", "createdAt", "id");

CREATE TABLE "ScimGroupMember" (
  "groupId" TEXT NOT NULL,
  "userId" TEXT NOT NULL,
  CONSTRAINT "ScimGroupMember_pkey" PRIMARY KEY ("groupId", "userId"),
  CONSTRAINT "ScimGroupMember_groupId_fkey" FOREIGN KEY ("groupId") REFERENCES "ScimGroup"("id") ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT "ScimGroupMember_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "ScimGroupMember_userId_idx" ON "ScimGroupMember" ("userId");
