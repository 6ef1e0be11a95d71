-- CreateTable
CREATE TABLE "TeamKeyCount" (
    "teamId" TEXT NOT NULL,
    "createdById" TEXT NOT NULL,
    "kind" "KeyKind" NOT NULL,
    "status" "ApiKeyStatus" NOT NULL,
    "n" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "TeamKeyCount_pkey" PRIMARY KEY ("teamId","createdById","kind","status")
);

-- CreateIndex
CREATE INDEX "ApiKey_teamId_status_expiresAt_idx" ON "ApiKey"("teamId", "status", "expiresAt");

-- Kept by statement-level triggers with transition tables: one upsert per statement, however
-- many keys it touched (a bulk revocation of 10,000 keys moves two counters once).
CREATE FUNCTION "keyplane_count_keys"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "TeamKeyCount" AS c ("teamId", "createdById", "kind", "status", "n")
  SELECT "teamId", "createdById", "kind", "status", SUM(d)::int FROM (
    SELECT "teamId", "createdById", "kind", "status", 1 AS d FROM new_rows
    UNION ALL
    SELECT "teamId", "createdById", "kind", "status", -1 AS d FROM old_rows
  ) AS delta
  GROUP BY "teamId", "createdById", "kind", "status"
  HAVING SUM(d) <> 0
  -- one order for every writer: two transactions moving the same counters cannot deadlock
  ORDER BY "teamId", "createdById", "kind", "status"
  ON CONFLICT ("teamId", "createdById", "kind", "status") DO UPDATE SET "n" = c."n" + EXCLUDED."n";
  RETURN NULL;
END $$;

CREATE FUNCTION "keyplane_count_new_keys"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "TeamKeyCount" AS c ("teamId", "createdById", "kind", "status", "n")
  SELECT "teamId", "createdById", "kind", "status", COUNT(*)::int FROM new_rows GROUP BY "teamId", "createdById", "kind", "status"
  ORDER BY "teamId", "createdById", "kind", "status"
  ON CONFLICT ("teamId", "createdById", "kind", "status") DO UPDATE SET "n" = c."n" + EXCLUDED."n";
  RETURN NULL;
END $$;

CREATE FUNCTION "keyplane_count_gone_keys"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "TeamKeyCount" AS c SET "n" = c."n" - g.n
    FROM (SELECT "teamId", "createdById", "kind", "status", COUNT(*)::int AS n FROM old_rows GROUP BY "teamId", "createdById", "kind", "status") AS g
   WHERE c."teamId" = g."teamId" AND c."createdById" = g."createdById" AND c."kind" = g."kind" AND c."status" = g."status";
  RETURN NULL;
END $$;

CREATE TRIGGER "ApiKey_count_insert" AFTER INSERT ON "ApiKey"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "keyplane_count_new_keys"();
CREATE TRIGGER "ApiKey_count_update" AFTER UPDATE ON "ApiKey"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "keyplane_count_keys"();
CREATE TRIGGER "ApiKey_count_delete" AFTER DELETE ON "ApiKey"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "keyplane_count_gone_keys"();

INSERT INTO "TeamKeyCount" ("teamId", "createdById", "kind", "status", "n")
SELECT "teamId", "createdById", "kind", "status", COUNT(*)::int FROM "ApiKey" GROUP BY "teamId", "createdById", "kind", "status";
