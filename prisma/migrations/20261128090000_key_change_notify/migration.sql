-- Every change of a key that matters to authentication (created, secret, status, expiry, gone) is
-- announced with NOTIFY in the changing transaction: PostgreSQL delivers it on commit to every
-- process LISTENing on this database (every Keyplane instance), whichever process made the change
-- (another instance, `keyplane bootstrap`), with or without Redis (SPEC §5). lastUsedAt writes and
-- renames announce nothing (the WHEN clause costs no function call).
CREATE FUNCTION "keyplane_notify_key_change"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  k "ApiKey";
BEGIN
  IF TG_OP = 'DELETE' THEN k := OLD; ELSE k := NEW; END IF;
  PERFORM pg_notify('keyplane_key_changes', json_build_object(
    'op', left(TG_OP, 1),
    'id', k."id",
    'teamId', k."teamId",
    'hash', k."hash",
    'oldHash', CASE WHEN TG_OP = 'UPDATE' AND OLD."hash" <> NEW."hash" THEN OLD."hash" END,
    'status', k."status",
    'oldStatus', CASE WHEN TG_OP = 'UPDATE' THEN OLD."status" END,
    'reason', k."revocationReason",
    'expiresAt', k."expiresAt"
  )::text);
  RETURN NULL;
END $$;

CREATE TRIGGER "ApiKey_notify_insert" AFTER INSERT ON "ApiKey"
  FOR EACH ROW EXECUTE FUNCTION "keyplane_notify_key_change"();
CREATE TRIGGER "ApiKey_notify_update" AFTER UPDATE ON "ApiKey"
  FOR EACH ROW WHEN (OLD."hash" IS DISTINCT FROM NEW."hash"
                  OR OLD."status" IS DISTINCT FROM NEW."status"
                  OR OLD."expiresAt" IS DISTINCT FROM NEW."expiresAt")
  EXECUTE FUNCTION "keyplane_notify_key_change"();
CREATE TRIGGER "ApiKey_notify_delete" AFTER DELETE ON "ApiKey"
  FOR EACH ROW EXECUTE FUNCTION "keyplane_notify_key_change"();
