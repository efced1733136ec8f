import { z } from '@tollgate/config';
import { PlanSchema } from '@tollgate/core';
import type { Actor } from '../actor.ts';
import { writeAudit } from '../audit.ts';
import { assertRole } from '../authorize.ts';
import { changeConfig } from '../config-change.ts';
import { notFound, parseInput, TollgateError } from '../errors.ts';
import {
  boolField,
  intField,
  nullableDecimal,
  nullableInt,
  nullablePositiveNumber,
  optionalText,
  slug,
  stringList,
  trimmed,
  uuid,
} from '../schemas.ts';

export const SavePlanSchema = z.object({
  id: uuid.optional(),
  slug,
  name: trimmed(100),
  description: optionalText(1000),
  quota: nullableInt(0),
  quotaPeriod: z.enum(['day', 'month']),
  rateLimitPerSecond: nullablePositiveNumber,
  burst: nullableInt(1),
  limitScope: z.enum(['consumer', 'key']).default('consumer'),
  priceCents: intField(0, 100_000_000),
  currency: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[a-z]{3}$/, 'a 3-letter currency code')
    .default('usd'),
  capMode: z.enum(['hard', 'soft']),
  overageUnitPriceDecimal: nullableDecimal,
  overageCeiling: nullableInt(0),
  trialDays: intField(0, 365).default(0),
  visibility: z.enum(['public', 'private', 'archived']),
  countUpstreamErrors: boolField,
  redisFailurePolicy: z.enum(['fail_open', 'fail_closed']).default('fail_closed'),
  /** APIs the plan includes (every route of each). */
  apiIds: stringList(uuid).default([]),
});
export type SavePlanInput = z.infer<typeof SavePlanSchema>;

/**
 * Creates or updates a plan and its API entitlements; the change and its audit row commit
 * together, and the result passes the gateway's validator (changeConfig).
 */
export async function savePlan(actor: Actor, input: unknown): Promise<{ id: string }> {
  assertRole(actor, ['admin']);
  const { id, apiIds, ...data } = parseInput(SavePlanSchema, input);
  // The same cross-field rules the gateway and billing rely on.
  parseInput(PlanSchema, { ...data, id: id ?? 'new' });
  return changeConfig(actor, async (tx) => {
    const clash = await tx.plan.findUnique({ where: { slug: data.slug }, select: { id: true } });
    if (clash && clash.id !== id)
      throw new TollgateError('conflict', 'SLUG_TAKEN', `A plan with slug "${data.slug}" exists.`, {
        details: { fieldErrors: { slug: 'taken' } },
      });
    const apis = await tx.api.findMany({ where: { id: { in: apiIds } }, select: { id: true } });
    if (apis.length !== new Set(apiIds).size) throw notFound('API');
    let planId: string;
    let before: unknown;
    if (id) {
      const existing = await tx.plan.findUnique({ where: { id }, include: { entitlements: true } });
      if (!existing) throw notFound('Plan');
      before = existing;
      await tx.plan.update({ where: { id }, data });
      planId = id;
    } else {
      planId = (await tx.plan.create({ data })).id;
    }
    const current = await tx.planEntitlement.findMany({ where: { planId, routeId: null } });
    const want = new Set(apiIds);
    const have = new Set(current.map((e) => e.apiId));
    await tx.planEntitlement.deleteMany({ where: { planId, routeId: null, apiId: { notIn: [...want] } } });
    for (const apiId of want)
      if (!have.has(apiId)) await tx.planEntitlement.create({ data: { planId, apiId } });
    const after = await tx.plan.findUnique({ where: { id: planId }, include: { entitlements: true } });
    await writeAudit(
      tx,
      actor,
      id ? 'plan.update' : 'plan.create',
      { type: 'plan', id: planId },
      before,
      after,
    );
    return { id: planId };
  });
}
