import { createHash } from 'node:crypto';
import { billsUsage, overageTiers } from '@tollgate/core';
import type { Plan } from '@tollgate/db';
import { isStripeNotFound, Stripe } from '@tollgate/stripe';
import type { BillingDeps } from '../deps.ts';

/**
 * Plans → Stripe catalog, idempotently.
 * - Product: id `tg_plan_<plan id>` (metadata tollgate_plan_id), so finding it is a retrieve.
 * - Flat Price: recurring monthly `unit_amount = price_cents`, lookup_key `tollgate_plan_<id>_flat`.
 * - When the plan bills overage (soft cap): one shared Billing Meter (event_name from config,
 *   sum, customer mapped by stripe_customer_id) and a graduated metered Price on it whose tiers
 *   make the quota free, bill overage per unit and stop at the overage ceiling
 *   (lookup_key `tollgate_plan_<id>_metered`).
 * A Price whose shape (hash in metadata tollgate_shape) still matches is kept; a changed one is
 * replaced by a new Price (the lookup key transfers) and the old one archived: existing
 * subscriptions keep the old Price. Every create carries an idempotency key derived from the plan
 * id, its version (updated_at) and the shape, so a crashed run retried creates nothing twice.
 * Free plans (no price, no overage) are not sold through Stripe and are skipped.
 */
export interface SyncResult {
  plans: number;
  skipped: number;
  created: { products: number; prices: number; meters: number };
  archivedPrices: string[];
  updatedProducts: number;
}

export const productIdFor = (planId: string) => `tg_plan_${planId.replaceAll('-', '')}`;
const shapeHash = (value: unknown) =>
  createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

export function needsStripe(plan: Plan): boolean {
  return plan.priceCents > 0 || billsUsage(plan);
}

export async function syncCatalog(deps: BillingDeps, onlyPlanId?: string): Promise<SyncResult> {
  const plans = await deps.prisma.plan.findMany({
    where: onlyPlanId === undefined ? {} : { id: onlyPlanId },
    orderBy: { createdAt: 'asc' },
  });
  const result: SyncResult = {
    plans: plans.length,
    skipped: 0,
    created: { products: 0, prices: 0, meters: 0 },
    archivedPrices: [],
    updatedProducts: 0,
  };
  let meterId: string | null = null;
  for (const plan of plans) {
    if (!needsStripe(plan)) {
      result.skipped += 1;
      continue;
    }
    if (billsUsage(plan) && plan.quotaPeriod === 'day')
      deps.log.warn(
        { planId: plan.id },
        'daily quota with overage: Stripe tiers apply per monthly period, so the included units on the metered price are the daily quota once per month',
      );
    if (billsUsage(plan) && meterId === null) meterId = await ensureMeter(deps, plan.stripeMeterId, result);
    await syncPlan(deps, plan, billsUsage(plan) ? meterId : null, result);
  }
  return result;
}

async function ensureMeter(deps: BillingDeps, knownId: string | null, result: SyncResult): Promise<string> {
  const eventName = deps.config.BILLING_METER_EVENT_NAME;
  if (knownId === null) {
    const stored = await deps.prisma.plan.findFirst({ where: { stripeMeterId: { not: null } } });
    knownId = stored?.stripeMeterId ?? null;
  }
  if (knownId !== null) {
    try {
      const meter = await deps.stripe.billing.meters.retrieve(knownId);
      if (meter.status === 'active' && meter.event_name === eventName) return meter.id;
    } catch (err) {
      if (!isStripeNotFound(err)) throw err;
    }
  }
  for await (const meter of deps.stripe.billing.meters.list({ status: 'active', limit: 100 })) {
    if (meter.event_name === eventName) return meter.id;
  }
  const meter = await deps.stripe.billing.meters.create(
    {
      display_name: 'Tollgate API units',
      event_name: eventName,
      default_aggregation: { formula: 'sum' },
      customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
      value_settings: { event_payload_key: 'value' },
    },
    { idempotencyKey: `tollgate:meter:${eventName}` },
  );
  result.created.meters += 1;
  return meter.id;
}

async function syncPlan(
  deps: BillingDeps,
  plan: Plan,
  meterId: string | null,
  result: SyncResult,
): Promise<void> {
  const { stripe } = deps;
  const version = plan.updatedAt.getTime();
  const productId = plan.stripeProductId ?? productIdFor(plan.id);
  const productFields = {
    name: plan.name,
    description: plan.description === '' ? undefined : plan.description,
  };
  let product: Stripe.Product | null = null;
  try {
    product = await stripe.products.retrieve(productId);
  } catch (err) {
    if (!isStripeNotFound(err)) throw err;
  }
  if (product === null || product.deleted) {
    product = await stripe.products.create(
      {
        id: productId,
        ...productFields,
        metadata: { tollgate_plan_id: plan.id, tollgate_plan_slug: plan.slug },
      },
      { idempotencyKey: `tollgate:${plan.id}:product:${version}` },
    );
    result.created.products += 1;
  } else if (
    product.name !== plan.name ||
    (product.description ?? '') !== plan.description ||
    !product.active
  ) {
    await stripe.products.update(product.id, { ...productFields, active: true });
    result.updatedProducts += 1;
  }

  const flatShape = { currency: plan.currency, unit_amount: plan.priceCents, interval: 'month' as const };
  const flatPriceId = await ensurePrice(deps, plan, {
    kind: 'flat',
    currentId: plan.stripeFlatPriceId,
    shape: flatShape,
    params: {
      product: product.id,
      currency: plan.currency,
      unit_amount: plan.priceCents,
      recurring: { interval: 'month', usage_type: 'licensed' },
      nickname: `${plan.name} (monthly)`,
    },
    result,
    version,
  });

  let meteredPriceId: string | null = null;
  const tiers = overageTiers(plan);
  if (meterId !== null && tiers !== null) {
    const meteredShape = { currency: plan.currency, meter: meterId, tiers };
    meteredPriceId = await ensurePrice(deps, plan, {
      kind: 'metered',
      currentId: plan.stripeMeteredPriceId,
      shape: meteredShape,
      params: {
        product: product.id,
        currency: plan.currency,
        billing_scheme: 'tiered',
        tiers_mode: 'graduated',
        tiers: tiers.map((t) => ({
          up_to: t.upTo === null ? 'inf' : t.upTo,
          unit_amount_decimal: Stripe.Decimal.from(t.unitAmountDecimal),
        })),
        recurring: { interval: 'month', usage_type: 'metered', meter: meterId },
        nickname: `${plan.name} usage`,
      },
      result,
      version,
    });
  } else if (plan.stripeMeteredPriceId !== null) {
    await archivePrice(deps, plan.stripeMeteredPriceId, result);
  }

  if (
    plan.stripeProductId !== product.id ||
    plan.stripeFlatPriceId !== flatPriceId ||
    plan.stripeMeteredPriceId !== meteredPriceId ||
    plan.stripeMeterId !== (meteredPriceId === null ? null : meterId)
  ) {
    // updatedAt is the version the idempotency keys derive from: keep it unchanged by this write.
    await deps.prisma.plan.update({
      where: { id: plan.id },
      data: {
        stripeProductId: product.id,
        stripeFlatPriceId: flatPriceId,
        stripeMeteredPriceId: meteredPriceId,
        stripeMeterId: meteredPriceId === null ? null : meterId,
        updatedAt: plan.updatedAt,
      },
    });
  }
}

interface EnsurePrice {
  kind: 'flat' | 'metered';
  currentId: string | null;
  shape: unknown;
  params: Stripe.PriceCreateParams;
  result: SyncResult;
  version: number;
}

async function ensurePrice(deps: BillingDeps, plan: Plan, p: EnsurePrice): Promise<string> {
  const { stripe } = deps;
  const shape = shapeHash(p.shape);
  const lookupKey = `tollgate_plan_${plan.id.replaceAll('-', '')}_${p.kind}`;
  const matches = (price: Stripe.Price) => price.metadata?.tollgate_shape === shape;

  let current: Stripe.Price | null = null;
  if (p.currentId !== null) {
    try {
      current = await stripe.prices.retrieve(p.currentId);
    } catch (err) {
      if (!isStripeNotFound(err)) throw err;
    }
  }
  if (current === null) {
    const found = await stripe.prices.list({ lookup_keys: [lookupKey], limit: 1 });
    current = found.data[0] ?? null;
  }
  if (current !== null && matches(current)) {
    if (!current.active) await stripe.prices.update(current.id, { active: true });
    return current.id;
  }
  const created = await stripe.prices.create(
    {
      ...p.params,
      lookup_key: lookupKey,
      transfer_lookup_key: true,
      metadata: { tollgate_plan_id: plan.id, tollgate_shape: shape, tollgate_kind: p.kind },
    },
    { idempotencyKey: `tollgate:${plan.id}:${p.kind}:${p.version}:${shape}` },
  );
  p.result.created.prices += 1;
  if (!created.active) await stripe.prices.update(created.id, { active: true });
  if (current !== null && current.id !== created.id) await archivePrice(deps, current.id, p.result);
  deps.log.info(
    { planId: plan.id, kind: p.kind, priceId: created.id, replaced: current?.id ?? null },
    'Stripe price created',
  );
  return created.id;
}

async function archivePrice(deps: BillingDeps, priceId: string, result: SyncResult): Promise<void> {
  await deps.stripe.prices.update(priceId, { active: false });
  result.archivedPrices.push(priceId);
}
