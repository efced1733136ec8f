-- migrate:up
-- billing_anchor: the instant whose day of month and time of day a subscription's periods
-- renew on (Stripe's billing cycle anchor). Quota periods are aligned to it, and a plan change,
-- including a new subscription after a cancel or a downgrade within the period, keeps it, so the
-- period's consumed quota (the gateway's counter is keyed by consumer and period start) is kept.
-- NULL on rows written without one: their current_period_start is the anchor.
ALTER TABLE "subscriptions" ADD COLUMN "billing_anchor" TIMESTAMPTZ(3);
UPDATE "subscriptions" SET "billing_anchor" = "current_period_start";
-- carry_from: set when a subscription continues a quota period another subscription of the
-- consumer started; the consumer's billable units in [carry_from, created_at) count against this
-- subscription's included units (billing reports them to Stripe as a carry_over meter event).
ALTER TABLE "subscriptions" ADD COLUMN "carry_from" TIMESTAMPTZ(3);
-- stripe_event_at: `created` of the last customer.subscription.* event applied to the row; an
-- older event never overwrites newer state (Stripe does not deliver events in order).
ALTER TABLE "subscriptions" ADD COLUMN "stripe_event_at" TIMESTAMPTZ(3);
-- usage: a window of the subscription's own usage. carry_over: units of the period consumed
-- before the subscription started (free at Stripe as long as they are within the quota).
CREATE TYPE "MeterReportKind" AS ENUM ('usage', 'carry_over');
ALTER TABLE "meter_reports" ADD COLUMN "kind" "MeterReportKind" NOT NULL DEFAULT 'usage';
-- A consumer's trial of a plan, at most one per consumer and plan: a checkout offers the plan's
-- trial only when there is no row yet; the webhook adds it when a trialing subscription arrives.
CREATE TABLE "plan_trials" (
    "consumer_id" UUID NOT NULL,
    "plan_id" UUID NOT NULL,
    "subscription_id" UUID NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "plan_trials_pkey" PRIMARY KEY ("consumer_id", "plan_id")
);
ALTER TABLE "plan_trials" ADD CONSTRAINT "plan_trials_consumer_id_fkey" FOREIGN KEY ("consumer_id") REFERENCES "consumers"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "plan_trials" ADD CONSTRAINT "plan_trials_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE CASCADE ON UPDATE CASCADE;
INSERT INTO "plan_trials" ("consumer_id", "plan_id", "subscription_id", "started_at")
SELECT DISTINCT ON ("consumer_id", "plan_id") "consumer_id", "plan_id", "id", "created_at"
FROM "subscriptions" WHERE "trial_end" IS NOT NULL
ORDER BY "consumer_id", "plan_id", "created_at";

-- migrate:down
DROP TABLE "plan_trials";
ALTER TABLE "meter_reports" DROP COLUMN "kind";
DROP TYPE "MeterReportKind";
ALTER TABLE "subscriptions" DROP COLUMN "stripe_event_at";
ALTER TABLE "subscriptions" DROP COLUMN "carry_from";
ALTER TABLE "subscriptions" DROP COLUMN "billing_anchor";
