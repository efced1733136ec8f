-- migrate:up
-- Gateway: a per-API request body limit, and change notifications for the gateway control plane.
-- Every statement that changes configuration the gateway serves from sends
-- pg_notify('tollgate_config', <table name>); the gateway LISTENs, reloads its snapshot (or
-- drops its API key cache for api_keys) and also resyncs periodically in case a notification is missed.
ALTER TABLE "apis" ADD COLUMN "max_body_bytes" INTEGER;

CREATE FUNCTION tollgate_notify_config() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tollgate_config', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

CREATE TRIGGER "apis_notify_config" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "apis"
  FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_config();
CREATE TRIGGER "routes_notify_config" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "routes"
  FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_config();
CREATE TRIGGER "upstream_targets_notify_config" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "upstream_targets"
  FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_config();
CREATE TRIGGER "plans_notify_config" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "plans"
  FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_config();
CREATE TRIGGER "plan_entitlements_notify_config" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "plan_entitlements"
  FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_config();
CREATE TRIGGER "subscriptions_notify_config" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "subscriptions"
  FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_config();
CREATE TRIGGER "consumers_notify_config" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "consumers"
  FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_config();
-- Only changes that affect verification: last_used_at updates must not flush every gateway cache.
CREATE TRIGGER "api_keys_notify_config"
  AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF "consumer_id", "hash", "expires_at", "revoked_at" ON "api_keys"
  FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_config();

-- migrate:down
DROP TRIGGER "api_keys_notify_config" ON "api_keys";
DROP TRIGGER "consumers_notify_config" ON "consumers";
DROP TRIGGER "subscriptions_notify_config" ON "subscriptions";
DROP TRIGGER "plan_entitlements_notify_config" ON "plan_entitlements";
DROP TRIGGER "plans_notify_config" ON "plans";
DROP TRIGGER "upstream_targets_notify_config" ON "upstream_targets";
DROP TRIGGER "routes_notify_config" ON "routes";
DROP TRIGGER "apis_notify_config" ON "apis";
DROP FUNCTION tollgate_notify_config();
ALTER TABLE "apis" DROP COLUMN "max_body_bytes";
