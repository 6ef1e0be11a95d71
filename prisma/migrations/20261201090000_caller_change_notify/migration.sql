-- The verification cache answers `viewer` (the caller's user, team and own key) without reading
-- the database, so every change to what it holds is announced on the key-change channel, in the
-- changing transaction, delivered on commit to every instance (the same path and lag as key
-- changes, migration key_change_notify):
-- * a member's row (name, email, role, and whatever later marks a member deactivated or deleted;
--   rows that did not change, e.g. an UPDATE setting the same values, announce nothing):
--   {"op": "USER", "id"}; every cached key the member owns or created is dropped;
-- * a team's row (name, plan, settings): {"op": "TEAM", "id"}; every cached key of the team is
--   dropped (settings change seldom; the cached Team row stays whole and true);
-- * a key's name (it is shown as viewer.apiKey): the key trigger now fires on renames too.
CREATE FUNCTION "keyplane_notify_caller_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('keyplane_key_changes', json_build_object(
    'op', CASE TG_TABLE_NAME WHEN 'User' THEN 'USER' ELSE 'TEAM' END,
    'id', OLD."id"
  )::text);
  RETURN NULL;
END $$;

CREATE TRIGGER "User_notify_change" AFTER UPDATE ON "User"
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
  EXECUTE FUNCTION "keyplane_notify_caller_change"();
CREATE TRIGGER "User_notify_delete" AFTER DELETE ON "User"
  FOR EACH ROW EXECUTE FUNCTION "keyplane_notify_caller_change"();
CREATE TRIGGER "Team_notify_change" AFTER UPDATE ON "Team"
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
  EXECUTE FUNCTION "keyplane_notify_caller_change"();
CREATE TRIGGER "Team_notify_delete" AFTER DELETE ON "Team"
  FOR EACH ROW EXECUTE FUNCTION "keyplane_notify_caller_change"();

DROP TRIGGER "ApiKey_notify_update" ON "ApiKey";
CREATE TRIGGER "ApiKey_notify_update" AFTER UPDATE ON "ApiKey"
  FOR EACH ROW WHEN (OLD."hash" IS DISTINCT FROM NEW."hash"
                  OR OLD."status" IS DISTINCT FROM NEW."status"
                  OR OLD."expiresAt" IS DISTINCT FROM NEW."expiresAt"
                  OR OLD."name" IS DISTINCT FROM NEW."name")
  EXECUTE FUNCTION "keyplane_notify_key_change"();
