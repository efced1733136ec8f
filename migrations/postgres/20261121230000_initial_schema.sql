-- migrate:up
-- The control-plane schema described by packages/db/prisma/schema.prisma. Names follow Prisma's
-- conventions (<table>_pkey, <table>_<cols>_key, <table>_<cols>_idx, <table>_<cols>_fkey) so
-- the drift test in packages/db can compare them one to one.

CREATE TYPE "UserRole" AS ENUM ('developer', 'admin', 'finance');
CREATE TYPE "ConsumerStatus" AS ENUM ('active', 'suspended');
CREATE TYPE "MemberRole" AS ENUM ('owner', 'member');
CREATE TYPE "LoadBalancing" AS ENUM ('round_robin', 'least_outstanding');
CREATE TYPE "QuotaPeriod" AS ENUM ('day', 'month');
CREATE TYPE "LimitScope" AS ENUM ('consumer', 'key');
CREATE TYPE "CapMode" AS ENUM ('hard', 'soft');
CREATE TYPE "PlanVisibility" AS ENUM ('public', 'private', 'archived');
CREATE TYPE "RedisFailurePolicy" AS ENUM ('fail_open', 'fail_closed');
CREATE TYPE "SubscriptionStatus" AS ENUM ('incomplete', 'trialing', 'active', 'past_due', 'suspended', 'canceled');
CREATE TYPE "MeterReportStatus" AS ENUM ('pending', 'sent', 'dead_letter');

CREATE TABLE "users" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "email" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "role" "UserRole" NOT NULL DEFAULT 'developer',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

CREATE TABLE "consumers" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "status" "ConsumerStatus" NOT NULL DEFAULT 'active',
    "suspended_reason" TEXT,
    "stripe_customer_id" TEXT,
    "alert_webhook_url" TEXT,
    "alert_webhook_secret" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "consumers_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "consumers_stripe_customer_id_key" ON "consumers"("stripe_customer_id");

CREATE TABLE "consumer_members" (
    "consumer_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "role" "MemberRole" NOT NULL DEFAULT 'owner',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "consumer_members_pkey" PRIMARY KEY ("consumer_id", "user_id")
);
CREATE INDEX "consumer_members_user_id_idx" ON "consumer_members"("user_id");

-- Scalar lists are NOT NULL with an empty default: Prisma lists cannot be null.
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "consumer_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "last_four" TEXT NOT NULL,
    "scopes" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "api_keys_hash_key" ON "api_keys"("hash");
CREATE INDEX "api_keys_consumer_id_idx" ON "api_keys"("consumer_id");

CREATE TABLE "apis" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "hosts" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "base_path" TEXT NOT NULL,
    "strip_base_path" BOOLEAN NOT NULL DEFAULT true,
    "upstream_host" TEXT,
    "load_balancing" "LoadBalancing" NOT NULL DEFAULT 'round_robin',
    "openapi" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "apis_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "apis_slug_key" ON "apis"("slug");

CREATE TABLE "upstream_targets" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "api_id" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "weight" INTEGER NOT NULL DEFAULT 1,
    "health_check_path" TEXT,
    CONSTRAINT "upstream_targets_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "upstream_targets_api_id_idx" ON "upstream_targets"("api_id");

CREATE TABLE "routes" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "api_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "methods" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "path" TEXT NOT NULL,
    "cost" INTEGER NOT NULL DEFAULT 1,
    "timeout_ms" INTEGER NOT NULL DEFAULT 30000,
    "public" BOOLEAN NOT NULL DEFAULT false,
    CONSTRAINT "routes_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "routes_api_id_idx" ON "routes"("api_id");

CREATE TABLE "plans" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "quota" INTEGER,
    "quota_period" "QuotaPeriod" NOT NULL DEFAULT 'month',
    "rate_limit_per_second" DOUBLE PRECISION,
    "burst" INTEGER,
    "limit_scope" "LimitScope" NOT NULL DEFAULT 'consumer',
    "price_cents" INTEGER NOT NULL DEFAULT 0,
    "currency" TEXT NOT NULL DEFAULT 'usd',
    "cap_mode" "CapMode" NOT NULL DEFAULT 'hard',
    "overage_unit_price_decimal" TEXT,
    "overage_ceiling" INTEGER,
    "trial_days" INTEGER NOT NULL DEFAULT 0,
    "visibility" "PlanVisibility" NOT NULL DEFAULT 'public',
    "count_upstream_errors" BOOLEAN NOT NULL DEFAULT false,
    "redis_failure_policy" "RedisFailurePolicy" NOT NULL DEFAULT 'fail_closed',
    "stripe_product_id" TEXT,
    "stripe_flat_price_id" TEXT,
    "stripe_metered_price_id" TEXT,
    "stripe_meter_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "plans_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "plans_slug_key" ON "plans"("slug");

CREATE TABLE "plan_entitlements" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "plan_id" UUID NOT NULL,
    "api_id" UUID NOT NULL,
    "route_id" UUID,
    CONSTRAINT "plan_entitlements_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "plan_entitlements_plan_id_api_id_route_id_key" ON "plan_entitlements"("plan_id", "api_id", "route_id");

CREATE TABLE "subscriptions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "consumer_id" UUID NOT NULL,
    "plan_id" UUID NOT NULL,
    "status" "SubscriptionStatus" NOT NULL DEFAULT 'active',
    "current_period_start" TIMESTAMPTZ(3) NOT NULL,
    "current_period_end" TIMESTAMPTZ(3) NOT NULL,
    "trial_end" TIMESTAMPTZ(3),
    "cancel_at_period_end" BOOLEAN NOT NULL DEFAULT false,
    "grace_until" TIMESTAMPTZ(3),
    "stripe_customer_id" TEXT,
    "stripe_subscription_id" TEXT,
    "stripe_metered_item_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "subscriptions_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "subscriptions_stripe_subscription_id_key" ON "subscriptions"("stripe_subscription_id");
CREATE INDEX "subscriptions_consumer_id_status_idx" ON "subscriptions"("consumer_id", "status");

CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor_id" TEXT,
    "actor_kind" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "target_type" TEXT NOT NULL,
    "target_id" TEXT,
    "before" JSONB,
    "after" JSONB,
    "ip" TEXT,
    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "audit_log_target_type_target_id_idx" ON "audit_log"("target_type", "target_id");
CREATE INDEX "audit_log_at_idx" ON "audit_log"("at");

CREATE TABLE "processed_webhooks" (
    "event_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "processed_webhooks_pkey" PRIMARY KEY ("event_id")
);

CREATE TABLE "billing_watermarks" (
    "subscription_id" UUID NOT NULL,
    "meter" TEXT NOT NULL,
    "reported_through" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "billing_watermarks_pkey" PRIMARY KEY ("subscription_id", "meter")
);

CREATE TABLE "meter_reports" (
    "identifier" TEXT NOT NULL,
    "subscription_id" UUID NOT NULL,
    "meter" TEXT NOT NULL,
    "window_start" TIMESTAMPTZ(3) NOT NULL,
    "window_end" TIMESTAMPTZ(3) NOT NULL,
    "value" BIGINT NOT NULL,
    "status" "MeterReportStatus" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),
    CONSTRAINT "meter_reports_pkey" PRIMARY KEY ("identifier")
);
CREATE INDEX "meter_reports_subscription_id_window_start_idx" ON "meter_reports"("subscription_id", "window_start");

CREATE TABLE "usage_alerts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "consumer_id" UUID NOT NULL,
    "subscription_id" UUID NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "threshold" INTEGER NOT NULL,
    "used_units" BIGINT NOT NULL,
    "quota" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "delivered_at" TIMESTAMPTZ(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_error" TEXT,
    CONSTRAINT "usage_alerts_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "usage_alerts_subscription_id_period_start_threshold_key" ON "usage_alerts"("subscription_id", "period_start", "threshold");
CREATE INDEX "usage_alerts_consumer_id_idx" ON "usage_alerts"("consumer_id");

ALTER TABLE "consumer_members" ADD CONSTRAINT "consumer_members_consumer_id_fkey" FOREIGN KEY ("consumer_id") REFERENCES "consumers"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "consumer_members" ADD CONSTRAINT "consumer_members_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_consumer_id_fkey" FOREIGN KEY ("consumer_id") REFERENCES "consumers"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "upstream_targets" ADD CONSTRAINT "upstream_targets_api_id_fkey" FOREIGN KEY ("api_id") REFERENCES "apis"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "routes" ADD CONSTRAINT "routes_api_id_fkey" FOREIGN KEY ("api_id") REFERENCES "apis"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "plan_entitlements" ADD CONSTRAINT "plan_entitlements_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "plan_entitlements" ADD CONSTRAINT "plan_entitlements_api_id_fkey" FOREIGN KEY ("api_id") REFERENCES "apis"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "plan_entitlements" ADD CONSTRAINT "plan_entitlements_route_id_fkey" FOREIGN KEY ("route_id") REFERENCES "routes"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_consumer_id_fkey" FOREIGN KEY ("consumer_id") REFERENCES "consumers"("id") ON DELETE CASCADE ON UPDATE CASCADE;
-- No onDelete in schema.prisma: Prisma's default for a required relation is Restrict.
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- migrate:down
DROP TABLE "usage_alerts";
DROP TABLE "meter_reports";
DROP TABLE "billing_watermarks";
DROP TABLE "processed_webhooks";
DROP TABLE "audit_log";
DROP TABLE "subscriptions";
DROP TABLE "plan_entitlements";
DROP TABLE "plans";
DROP TABLE "routes";
DROP TABLE "upstream_targets";
DROP TABLE "apis";
DROP TABLE "api_keys";
DROP TABLE "consumer_members";
DROP TABLE "consumers";
DROP TABLE "users";
DROP TYPE "MeterReportStatus";
DROP TYPE "SubscriptionStatus";
DROP TYPE "RedisFailurePolicy";
DROP TYPE "PlanVisibility";
DROP TYPE "CapMode";
DROP TYPE "LimitScope";
DROP TYPE "QuotaPeriod";
DROP TYPE "LoadBalancing";
DROP TYPE "MemberRole";
DROP TYPE "ConsumerStatus";
DROP TYPE "UserRole";
