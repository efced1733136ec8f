import type { PricedPlan } from '../pricing.ts';
import type { PriceTier } from './tiers.ts';

/**
 * The graduated tiers of a plan's metered Price. Every billable unit is reported to Stripe;
 * the tiers make the included quota free, bill overage at the plan's unit price and bill
 * nothing past the overage ceiling (the gateway refuses those requests anyway). So Stripe's
 * invoice over the reported total equals our own rating of the same total.
 * Null when the plan bills no usage (hard cap, no quota, or no overage price).
 */
export function overageTiers(plan: PricedPlan): PriceTier[] | null {
  if (plan.capMode !== 'soft' || plan.quota === null || plan.overageUnitPriceDecimal === null) return null;
  const tiers: PriceTier[] = [];
  if (plan.quota > 0) tiers.push({ upTo: plan.quota, unitAmountDecimal: '0' });
  if (plan.overageCeiling === null) {
    tiers.push({ upTo: null, unitAmountDecimal: plan.overageUnitPriceDecimal });
    return tiers;
  }
  if (plan.overageCeiling > 0)
    tiers.push({ upTo: plan.quota + plan.overageCeiling, unitAmountDecimal: plan.overageUnitPriceDecimal });
  tiers.push({ upTo: null, unitAmountDecimal: '0' });
  return tiers;
}

/** Whether usage of this plan is billed through a meter and a metered Price. */
export function billsUsage(plan: PricedPlan): boolean {
  return overageTiers(plan) !== null;
}
