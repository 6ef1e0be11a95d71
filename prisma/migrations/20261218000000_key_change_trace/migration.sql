-- Traces across instances (issue 20): a traced revocation sets its W3C traceparent for its own
-- transaction (set_config('keyplane.traceparent', …, true): SET LOCAL), and the key trigger puts
-- it in the change's NOTIFY, so that the delivery of the change on the other instances is a span
-- of the same trace (src/keys/change-feed.ts). Unset (tracing off, or any other writer): null.
-- Same payload otherwise (migration key_change_event), same triggers.
CREATE OR REPLACE FUNCTION "keyplane_notify_key_change"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  k "ApiKey";
BEGIN
  IF TG_OP = 'DELETE' THEN k := OLD; ELSE k := NEW; END IF;
  PERFORM pg_notify('keyplane_key_changes', json_build_object(
    'op', left(TG_OP, 1),
    'id', k."id",
    'teamId', k."teamId",
    'kind', k."kind",
    'createdById', k."createdById",
    'hash', k."hash",
    'oldHash', CASE WHEN TG_OP = 'UPDATE' AND OLD."hash" <> NEW."hash" THEN OLD."hash" END,
    'status', k."status",
    'oldStatus', CASE WHEN TG_OP = 'UPDATE' THEN OLD."status" END,
    'reason', k."revocationReason",
    'revokedAt', k."revokedAt",
    'revokedById', k."revokedById",
    'expiresAt', k."expiresAt",
    'updatedAt', k."updatedAt",
    -- '' once set and reset in this session, null if never set: both mean none.
    'traceparent', nullif(current_setting('keyplane.traceparent', true), '')
  )::text);
  RETURN NULL;
END $$;
