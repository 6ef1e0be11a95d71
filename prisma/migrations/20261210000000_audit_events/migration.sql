-- The audit trail (SPEC §5 "Audit"): one row per object a state change changed, written in the
-- change's own transaction by src/audit/record.ts.
CREATE TYPE "AuditActorType" AS ENUM ('USER', 'SCIM', 'SYSTEM', 'SCANNER');

CREATE TABLE "AuditEvent" (
    "id" TEXT NOT NULL,
    "teamId" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "action" TEXT NOT NULL,
    "actorType" "AuditActorType" NOT NULL,
    "actorId" TEXT,
    "actorKeyHint" TEXT,
    "targetType" TEXT NOT NULL,
    "targetId" TEXT,
    "summary" TEXT NOT NULL,
    "address" TEXT,
    "userAgent" TEXT,

    CONSTRAINT "AuditEvent_pkey" PRIMARY KEY ("id")
);

-- A team of 1,000,000 events: newest-first keyset pages (and the export, read backwards) on the
-- first index; each filter of auditEvents has one of its own in the same order, so a filtered
-- page is one short range scan (actions: one per action, merged; see src/audit/query.ts). Actor
-- and actions together ("what did Alice revoke") have theirs: without it a member who never did
-- that action meant reading every event of the action (0.5 s at 200,000 of them).
CREATE INDEX "AuditEvent_teamId_at_id_idx" ON "AuditEvent"("teamId", "at" DESC, "id" DESC);
CREATE INDEX "AuditEvent_teamId_action_at_id_idx" ON "AuditEvent"("teamId", "action", "at" DESC, "id" DESC);
CREATE INDEX "AuditEvent_teamId_actorId_at_id_idx" ON "AuditEvent"("teamId", "actorId", "at" DESC, "id" DESC);
CREATE INDEX "AuditEvent_teamId_actorId_action_at_id_idx" ON "AuditEvent"("teamId", "actorId", "action", "at" DESC, "id" DESC);
CREATE INDEX "AuditEvent_teamId_targetId_at_id_idx" ON "AuditEvent"("teamId", "targetId", "at" DESC, "id" DESC);

ALTER TABLE "AuditEvent" ADD CONSTRAINT "AuditEvent_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Append-only: nothing updates an event, and only the retention job deletes (it sets
-- keyplane.audit_retention for its own transaction: src/audit/retention-job.ts). Statement-level,
-- so a purge of 10,000 rows costs one check, not 10,000.
CREATE FUNCTION "keyplane_audit_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('keyplane.audit_retention', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'AuditEvent is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER "AuditEvent_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "AuditEvent"
  FOR EACH STATEMENT EXECUTE FUNCTION "keyplane_audit_append_only"();
