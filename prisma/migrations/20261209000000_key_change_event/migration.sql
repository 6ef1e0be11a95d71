-- One event for a key change (src/keys/events.ts, KeyChanged): the key trigger's NOTIFY now carries
-- everything its subscribers need, apiKeyRevoked included (the key's kind, its owner, who revoked
-- it and when), so that the feed is the one path between instances for every key change, Redis or
-- not. `updatedAt` gives the change its identity: the instance that made the change publishes it
-- at once and drops this echo of it (every write that fires this trigger sets "updatedAt").
-- Same triggers, same WHEN clauses (migrations key_change_notify and caller_change_notify).
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
    'updatedAt', k."updatedAt"
  )::text);
  RETURN NULL;
END $$;
