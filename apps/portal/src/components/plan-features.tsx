import { money, n } from './format.ts';

export interface PlanLike {
  name: string;
  description: string;
  quota: number | null;
  quotaPeriod: 'day' | 'month';
  rateLimitPerSecond: number | null;
  burst: number | null;
  priceCents: number;
  currency: string;
  capMode: 'hard' | 'soft';
  overageUnitPriceDecimal: string | null;
  overageCeiling: number | null;
  trialDays: number;
}

/** Free plans activate without Stripe (same rule as billing): no flat price and no overage price. */
export function isFreePlan(plan: Pick<PlanLike, 'priceCents' | 'overageUnitPriceDecimal'>): boolean {
  return plan.priceCents === 0 && plan.overageUnitPriceDecimal === null;
}

export function planPrice(plan: PlanLike): string {
  return plan.priceCents === 0 ? 'Free' : money(plan.priceCents, plan.currency);
}

export function PlanFeatures({ plan }: { plan: PlanLike }) {
  return (
    <ul>
      <li>
        {plan.quota === null ? 'Unlimited requests' : `${n(plan.quota)} requests per ${plan.quotaPeriod}`}
      </li>
      <li>
        {plan.capMode === 'hard'
          ? 'Hard cap: requests past the quota are refused'
          : `Overage allowed at ${plan.overageUnitPriceDecimal ?? '0'}¢ per request${plan.overageCeiling === null ? '' : ` (up to ${n(plan.overageCeiling)} extra)`}`}
      </li>
      {plan.rateLimitPerSecond !== null && (
        <li>
          {plan.rateLimitPerSecond} requests/second, burst {plan.burst}
        </li>
      )}
      {plan.trialDays > 0 && <li>{plan.trialDays}-day free trial</li>}
    </ul>
  );
}
