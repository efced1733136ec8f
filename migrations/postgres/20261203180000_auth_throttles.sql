-- migrate:up
-- Portal sign-in and sign-up throttles: one row per scope and key (an address, or an address and
-- an account), with the attempts still counted and the time before which the next one is
-- refused. It replaces sign_in_attempts, whose per-email count let anyone lock any account.
-- Matches the AuthThrottle model in schema.prisma.
CREATE TABLE "auth_throttles" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "blocked_until" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "auth_throttles_pkey" PRIMARY KEY ("scope", "key")
);

DROP TABLE "sign_in_attempts";

-- migrate:down
CREATE TABLE "sign_in_attempts" (
    "id" BIGSERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "ip" TEXT NOT NULL,
    "succeeded" BOOLEAN NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "sign_in_attempts_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "sign_in_attempts_email_at_idx" ON "sign_in_attempts"("email", "at");
CREATE INDEX "sign_in_attempts_ip_at_idx" ON "sign_in_attempts"("ip", "at");

DROP TABLE "auth_throttles";
