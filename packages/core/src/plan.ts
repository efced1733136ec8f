import { z } from 'zod';

/**
 * A plan as the gateway, metering and billing see it. Money is in integer minor units (cents);
 * the overage unit price is a decimal string of minor units, as Stripe's `unit_amount_decimal`,
 * because per-request prices are fractions of a cent.
 */
export const QUOTA_PERIODS = ['day', 'month'] as const;
export type QuotaPeriod = (typeof QUOTA_PERIODS)[number];

export const PlanSchema = z
  .object({
    id: z.string().min(1),
    slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
    name: z.string().min(1).max(100),
    /** Units per period; null means unlimited. */
    quota: z.number().int().nonnegative().nullable(),
    quotaPeriod: z.enum(QUOTA_PERIODS),
    /** Sustained requests per second and the bucket size; null rate means no rate limit. */
    rateLimitPerSecond: z.number().positive().nullable(),
    burst: z.number().int().positive().nullable(),
    /**
     * Whether the rate limit (token bucket) applies to the whole consumer or to each API key on
     * its own. The quota is always the consumer's: more keys never mean more quota.
     */
    limitScope: z.enum(['consumer', 'key']),
    priceCents: z.number().int().nonnegative(),
    currency: z.string().regex(/^[a-z]{3}$/),
    /** hard: 429 at the quota. soft: admit billed overage up to `overageCeiling` units past it. */
    capMode: z.enum(['hard', 'soft']),
    overageUnitPriceDecimal: z
      .string()
      .regex(/^\d+(\.\d{1,12})?$/)
      .nullable(),
    /** Max overage units in a period under a soft cap; null means uncapped overage. */
    overageCeiling: z.number().int().nonnegative().nullable(),
    trialDays: z.number().int().nonnegative(),
    visibility: z.enum(['public', 'private', 'archived']),
    /** Whether upstream 5xx and timeouts count against the quota and the bill. */
    countUpstreamErrors: z.boolean(),
    redisFailurePolicy: z.enum(['fail_open', 'fail_closed']),
  })
  .superRefine((plan, ctx) => {
    if (plan.capMode === 'soft' && plan.overageUnitPriceDecimal === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['overageUnitPriceDecimal'],
        message: 'a soft cap bills overage: set a unit price',
      });
    }
    if (plan.capMode === 'soft' && plan.quota === null) {
      ctx.addIssue({ code: 'custom', path: ['capMode'], message: 'a soft cap needs a quota to go over' });
    }
    if ((plan.rateLimitPerSecond === null) !== (plan.burst === null)) {
      ctx.addIssue({ code: 'custom', path: ['burst'], message: 'rate limit and burst are set together' });
    }
  });
export type Plan = z.infer<typeof PlanSchema>;

/** Units the plan admits in one period, overage included; null means no limit. */
export function periodCeiling(plan: Pick<Plan, 'quota' | 'capMode' | 'overageCeiling'>): number | null {
  if (plan.quota === null) return null;
  if (plan.capMode === 'hard') return plan.quota;
  return plan.overageCeiling === null ? null : plan.quota + plan.overageCeiling;
}
