import type { UsageStore } from '@tollgate/clickhouse';
import { periodContaining } from '@tollgate/core';
import type { PrismaClient } from '@tollgate/db';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { randomId } from './helpers.ts';

export const SERVICE_TOKEN = 'test-service-token-0123456789abcdefghijkl';

export interface Account {
  consumerId: string;
  subscriptionId: string;
  planSlug: string;
}

/** A consumer with a live subscription to a fresh plan. */
export async function createAccount(
  prisma: PrismaClient,
  opts: {
    quota: number | null;
    priceCents?: number;
    capMode?: 'hard' | 'soft';
    overageUnitPriceDecimal?: string | null;
    periodStart?: Date;
    webhookUrl?: string | null;
    webhookSecret?: string | null;
    name?: string;
  },
): Promise<Account> {
  const slug = `plan-${randomId()}`;
  const plan = await prisma.plan.create({
    data: {
      slug,
      name: slug,
      quota: opts.quota,
      quotaPeriod: 'month',
      priceCents: opts.priceCents ?? 0,
      currency: 'usd',
      capMode: opts.capMode ?? 'hard',
      overageUnitPriceDecimal: opts.overageUnitPriceDecimal ?? null,
    },
  });
  const consumer = await prisma.consumer.create({
    data: {
      name: opts.name ?? `consumer ${randomId()}`,
      alertWebhookUrl: opts.webhookUrl ?? null,
      alertWebhookSecret: opts.webhookSecret ?? null,
    },
  });
  const start =
    opts.periodStart ?? new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1));
  // core's period arithmetic (a hand-written "add a month" turns Jan 31 into Mar 3)
  const end = periodContaining(start, 'month', start).end;
  const sub = await prisma.subscription.create({
    data: {
      consumerId: consumer.id,
      planId: plan.id,
      status: 'active',
      currentPeriodStart: start,
      currentPeriodEnd: end,
    },
  });
  return { consumerId: consumer.id, subscriptionId: sub.id, planSlug: slug };
}

export function testApp(usage: UsageStore, prisma: PrismaClient, now?: () => Date): FastifyInstance {
  return buildApp({
    usage,
    prisma,
    serviceToken: SERVICE_TOKEN,
    probes: { clickhouse: async () => true, postgres: async () => true },
    ...(now === undefined ? {} : { now }),
  });
}

export const auth = { authorization: `Bearer ${SERVICE_TOKEN}` };
