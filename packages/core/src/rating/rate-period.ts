import type { PricedPlan } from '../pricing.ts';
import { overageTiers } from './overage-tiers.ts';
import { type ProrationPeriod, prorationSplit } from './proration.ts';
import { rateTiers } from './tiers.ts';

/**
 * The local invoice preview: what Stripe will put on the invoice for one period of a plan,
 * computed the same way (flat recurring line + graduated metered line over all reported units).
 */
export interface InvoiceLine {
  kind: 'flat' | 'usage' | 'proration_credit' | 'proration_charge';
  description: string;
  quantity: number;
  amountCents: bigint;
}

export interface RatedInvoice {
  currency: string;
  lines: InvoiceLine[];
  totalCents: bigint;
  /** Units past the quota that were billed (at most the overage ceiling). */
  billedOverageUnits: number;
}

export function ratePeriod(plan: PricedPlan, usedUnits: number): RatedInvoice {
  if (!Number.isSafeInteger(usedUnits) || usedUnits < 0)
    throw new RangeError('usedUnits must be a non-negative integer');
  const lines: InvoiceLine[] = [
    { kind: 'flat', description: 'Plan (monthly)', quantity: 1, amountCents: BigInt(plan.priceCents) },
  ];
  let billedOverageUnits = 0;
  const tiers = overageTiers(plan);
  if (tiers !== null) {
    const charge = rateTiers(usedUnits, tiers, 'graduated');
    for (const line of charge.lines) {
      if (line.unitAmountDecimal === '0' || /^0(\.0+)?$/.test(line.unitAmountDecimal)) continue;
      billedOverageUnits += line.units;
      lines.push({
        kind: 'usage',
        description: `Usage units ${line.fromUnit}–${line.toUnit} at ${line.unitAmountDecimal} per unit`,
        quantity: line.units,
        amountCents: line.amountCents,
      });
    }
  }
  return {
    currency: plan.currency,
    lines,
    totalCents: lines.reduce((sum, l) => sum + l.amountCents, 0n),
    billedOverageUnits,
  };
}

export interface PlanChangePreview {
  currency: string;
  /** Lines billed now (Stripe adds them to the next invoice with create_prorations). */
  prorationLines: InvoiceLine[];
  prorationCents: bigint;
  /** The next full period on the new plan, with the usage so far carried (metered usage is not prorated). */
  nextPeriod: RatedInvoice;
}

/**
 * A mid-period plan change at `at`: credit for the unused time on the old flat price, charge for
 * the remaining time on the new one, both by seconds as Stripe does.
 */
export function previewPlanChange(
  from: PricedPlan,
  to: PricedPlan,
  period: ProrationPeriod,
  at: Date,
  usedUnits: number,
): PlanChangePreview {
  const credit = prorationSplit(BigInt(from.priceCents), period, at);
  const charge = prorationSplit(BigInt(to.priceCents), period, at);
  const prorationLines: InvoiceLine[] = [];
  if (credit.unusedCents > 0n)
    prorationLines.push({
      kind: 'proration_credit',
      description: 'Unused time on the current plan',
      quantity: 1,
      amountCents: -credit.unusedCents,
    });
  if (charge.unusedCents > 0n)
    prorationLines.push({
      kind: 'proration_charge',
      description: 'Remaining time on the new plan',
      quantity: 1,
      amountCents: charge.unusedCents,
    });
  return {
    currency: to.currency,
    prorationLines,
    prorationCents: charge.unusedCents - credit.unusedCents,
    nextPeriod: ratePeriod(to, usedUnits),
  };
}
