import { deps } from '../deps.ts';
import { notFound } from '../errors.ts';

/** Read models shared by the REST API (the UI pages read the same tables). */
export async function getApi(id: string) {
  const api = await deps().prisma.api.findUnique({ where: { id }, include: { routes: true, targets: true } });
  if (!api) throw notFound('API');
  return api;
}

export async function getPlan(id: string) {
  const plan = await deps().prisma.plan.findUnique({ where: { id }, include: { entitlements: true } });
  if (!plan) throw notFound('Plan');
  return plan;
}

export async function getRoute(id: string) {
  const route = await deps().prisma.route.findUnique({ where: { id } });
  if (!route) throw notFound('Route');
  return route;
}

export async function getConsumer(id: string) {
  const consumer = await deps().prisma.consumer.findUnique({
    where: { id },
    select: {
      id: true,
      name: true,
      externalId: true,
      status: true,
      suspendedReason: true,
      createdAt: true,
      members: { select: { role: true, user: { select: { id: true, email: true, name: true } } } },
      subscriptions: {
        select: { id: true, planId: true, status: true, currentPeriodStart: true, currentPeriodEnd: true },
      },
      apiKeys: {
        select: {
          id: true,
          name: true,
          prefix: true,
          lastFour: true,
          createdAt: true,
          expiresAt: true,
          revokedAt: true,
        },
      },
    },
  });
  if (!consumer) throw notFound('Consumer');
  return consumer;
}

export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

/** A key of the consumer in the path; a key of another consumer is not found, as is a bad id. */
export async function getConsumerKey(consumerId: string, keyId: string) {
  const key =
    isUuid(consumerId) && isUuid(keyId)
      ? await deps().prisma.apiKey.findUnique({ where: { id: keyId }, select: KEY_FIELDS })
      : null;
  if (!key || key.consumerId !== consumerId) throw notFound('Key');
  return key;
}

/** What the admin API shows of a key: never the secret (not stored) nor its hash. */
export const KEY_FIELDS = {
  id: true,
  consumerId: true,
  name: true,
  prefix: true,
  lastFour: true,
  scopes: true,
  createdAt: true,
  lastUsedAt: true,
  expiresAt: true,
  revokedAt: true,
} as const;
