-- migrate:up
-- Admin API provisioning. consumers.external_id: the provider's own id for a consumer (its
-- sign-up flow or CRM), unique so a retry or a second system cannot create a twin.
-- admin_idempotency_keys: the stored answer of an /admin/v1 POST sent with an Idempotency-Key,
-- replayed for the same key and body (Stripe's rule); the body's hash tells a reuse with another
-- body. Matches the Consumer and AdminIdempotencyKey models in schema.prisma.
ALTER TABLE "consumers" ADD COLUMN "external_id" TEXT;
CREATE UNIQUE INDEX "consumers_external_id_key" ON "consumers"("external_id");

CREATE TABLE "admin_idempotency_keys" (
    "token_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "method" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "body_hash" TEXT NOT NULL,
    "status" INTEGER,
    "content_type" TEXT,
    "response" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "admin_idempotency_keys_pkey" PRIMARY KEY ("token_id", "key")
);
CREATE INDEX "admin_idempotency_keys_created_at_idx" ON "admin_idempotency_keys"("created_at");

-- migrate:down
DROP TABLE "admin_idempotency_keys";
DROP INDEX "consumers_external_id_key";
ALTER TABLE "consumers" DROP COLUMN "external_id";
