-- migrate:up
-- Versions of the provider configuration: APIs, routes, upstream targets, plans and plan
-- entitlements (not consumers, subscriptions or keys). Every committed transaction that changes
-- it, through the portal or straight in SQL, adds one row holding the whole configuration as
-- JSON (tollgate_provider_config(), the one definition of its shape), unless the content is the
-- same as the latest version's. The gateway reports the version it applied; the admin API and
-- the gateway's automatic rollback restore an earlier one (packages/db config-versions.ts).
CREATE TABLE "config_versions" (
    "version" BIGSERIAL NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "content" JSONB NOT NULL,
    "content_hash" TEXT NOT NULL,
    "actor" TEXT,
    "restored_from" BIGINT,
    CONSTRAINT "config_versions_pkey" PRIMARY KEY ("version")
);

-- Rows in id order, so equal configurations have equal JSON (and hash). Descriptions, OpenAPI
-- documents, timestamps and Stripe ids are not configuration the gateway applies.
CREATE FUNCTION tollgate_provider_config() RETURNS jsonb LANGUAGE sql STABLE AS $$
SELECT jsonb_build_object(
  'apis', COALESCE((
    SELECT jsonb_agg(jsonb_build_object(
      'id', a.id,
      'name', a.name,
      'slug', a.slug,
      'hosts', to_jsonb(a.hosts),
      'basePath', a.base_path,
      'stripBasePath', a.strip_base_path,
      'upstreamHost', a.upstream_host,
      'loadBalancing', a.load_balancing,
      'maxBodyBytes', a.max_body_bytes,
      'targets', COALESCE((
        SELECT jsonb_agg(jsonb_build_object(
          'id', t.id, 'url', t.url, 'weight', t.weight, 'healthCheckPath', t.health_check_path
        ) ORDER BY t.id)
        FROM "upstream_targets" t WHERE t.api_id = a.id), '[]'::jsonb),
      'routes', COALESCE((
        SELECT jsonb_agg(jsonb_build_object(
          'id', r.id, 'name', r.name, 'methods', to_jsonb(r.methods), 'path', r.path, 'cost', r.cost,
          'timeoutMs', r.timeout_ms, 'public', r.public, 'pathMatch', r.path_match
        ) ORDER BY r.id)
        FROM "routes" r WHERE r.api_id = a.id), '[]'::jsonb)
    ) ORDER BY a.id)
    FROM "apis" a), '[]'::jsonb),
  'plans', COALESCE((
    SELECT jsonb_agg(jsonb_build_object(
      'id', p.id,
      'slug', p.slug,
      'name', p.name,
      'quota', p.quota,
      'quotaPeriod', p.quota_period,
      'rateLimitPerSecond', p.rate_limit_per_second,
      'burst', p.burst,
      'limitScope', p.limit_scope,
      'priceCents', p.price_cents,
      'currency', p.currency,
      'capMode', p.cap_mode,
      'overageUnitPriceDecimal', p.overage_unit_price_decimal,
      'overageCeiling', p.overage_ceiling,
      'trialDays', p.trial_days,
      'visibility', p.visibility,
      'countUpstreamErrors', p.count_upstream_errors,
      'redisFailurePolicy', p.redis_failure_policy,
      'entitlements', COALESCE((
        SELECT jsonb_agg(jsonb_build_object('id', e.id, 'apiId', e.api_id, 'routeId', e.route_id) ORDER BY e.id)
        FROM "plan_entitlements" e WHERE e.plan_id = p.id), '[]'::jsonb)
    ) ORDER BY p.id)
    FROM "plans" p), '[]'::jsonb)
);
$$;

-- Runs at commit (deferred constraint trigger), once per transaction: the first row event
-- records the version, the others see the transaction-local marker and return. The advisory
-- lock (the portal's config writes take it too) orders concurrent commits, so the content read
-- after taking it includes every earlier commit and versions follow commit order.
-- tollgate.config_actor / tollgate.config_restored_from: set (SET LOCAL) by the writer.
CREATE FUNCTION tollgate_record_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  next_content jsonb;
  next_hash text;
BEGIN
  IF current_setting('tollgate.config_versioned', true) = txid_current()::text THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('tollgate.config_versioned', txid_current()::text, true);
  PERFORM pg_advisory_xact_lock(7420116010);
  next_content := tollgate_provider_config();
  next_hash := md5(next_content::text);
  IF next_hash IS DISTINCT FROM (SELECT content_hash FROM "config_versions" ORDER BY "version" DESC LIMIT 1) THEN
    INSERT INTO "config_versions" ("content", "content_hash", "actor", "restored_from")
    VALUES (
      next_content,
      next_hash,
      NULLIF(current_setting('tollgate.config_actor', true), ''),
      NULLIF(current_setting('tollgate.config_restored_from', true), '')::bigint
    );
  END IF;
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER "apis_config_version"
  AFTER INSERT OR DELETE OR UPDATE OF "slug", "name", "hosts", "base_path", "strip_base_path", "upstream_host", "load_balancing", "max_body_bytes", "id"
  ON "apis" DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION tollgate_record_config_version();
CREATE CONSTRAINT TRIGGER "routes_config_version" AFTER INSERT OR UPDATE OR DELETE ON "routes"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tollgate_record_config_version();
CREATE CONSTRAINT TRIGGER "upstream_targets_config_version" AFTER INSERT OR UPDATE OR DELETE ON "upstream_targets"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tollgate_record_config_version();
-- Not billing's writes of Stripe ids (nor updated_at): they change no configuration.
CREATE CONSTRAINT TRIGGER "plans_config_version"
  AFTER INSERT OR DELETE OR UPDATE OF "id", "slug", "name", "quota", "quota_period", "rate_limit_per_second", "burst", "limit_scope", "price_cents", "currency", "cap_mode", "overage_unit_price_decimal", "overage_ceiling", "trial_days", "visibility", "count_upstream_errors", "redis_failure_policy"
  ON "plans" DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION tollgate_record_config_version();
CREATE CONSTRAINT TRIGGER "plan_entitlements_config_version" AFTER INSERT OR UPDATE OR DELETE ON "plan_entitlements"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tollgate_record_config_version();

-- Version 1: the configuration as it is now.
INSERT INTO "config_versions" ("content", "content_hash", "actor")
SELECT c, md5(c::text), 'migration' FROM (SELECT tollgate_provider_config() AS c) s;

-- migrate:down
DROP TRIGGER "plan_entitlements_config_version" ON "plan_entitlements";
DROP TRIGGER "plans_config_version" ON "plans";
DROP TRIGGER "upstream_targets_config_version" ON "upstream_targets";
DROP TRIGGER "routes_config_version" ON "routes";
DROP TRIGGER "apis_config_version" ON "apis";
DROP FUNCTION tollgate_record_config_version();
DROP FUNCTION tollgate_provider_config();
DROP TABLE "config_versions";
