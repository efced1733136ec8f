import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncCatalog } from '../src/catalog/sync-catalog.ts';
import { FakeStripe } from './fake-stripe.ts';
import { createHarness, createPlan, type Harness, STRIPE_MOCK_BASE } from './helpers.ts';

/** Catalog sync: idempotent against our stateful fake; request shapes valid against stripe-mock. */
let fake: FakeStripe;
let h: Harness;

beforeAll(async () => {
  fake = new FakeStripe();
  h = await createHarness({ stripeApiBase: await fake.start() });
  await createPlan(h.db.prisma, { slug: 'free', priceCents: 0, quota: 1000 });
  await createPlan(h.db.prisma, { slug: 'starter', priceCents: 4900, quota: 50_000 });
  await createPlan(h.db.prisma, {
    slug: 'pro',
    priceCents: 19_900,
    quota: 500_000,
    capMode: 'soft',
    overageUnitPriceDecimal: '0.04',
    overageCeiling: 1_000_000,
  });
});

afterAll(async () => {
  await h?.close();
  await fake?.stop();
});

describe('catalog sync', () => {
  it('creates products, flat prices, one meter and the metered price on the first run', async () => {
    const result = await syncCatalog(h.deps);
    expect(result.created).toEqual({ products: 2, prices: 3, meters: 1 });
    expect(result.skipped).toBe(1);
    const pro = await h.db.prisma.plan.findUniqueOrThrow({ where: { slug: 'pro' } });
    expect(pro.stripeProductId).toBe(`tg_plan_${pro.id.replaceAll('-', '')}`);
    const metered = fake.prices.get(pro.stripeMeteredPriceId!);
    expect(metered?.recurring).toMatchObject({
      usage_type: 'metered',
      meter: pro.stripeMeterId,
      interval: 'month',
    });
    expect(metered?.tiers_mode).toBe('graduated');
    expect(metered?.tiers).toEqual([
      { up_to: '500000', unit_amount_decimal: '0' },
      { up_to: '1500000', unit_amount_decimal: '0.04' },
      { up_to: 'inf', unit_amount_decimal: '0' },
    ]);
    expect(fake.products.get(pro.stripeProductId!)?.metadata).toMatchObject({ tollgate_plan_id: pro.id });
    const meter = fake.meters.get(pro.stripeMeterId!);
    expect(meter).toMatchObject({
      event_name: 'tollgate_api_units',
      default_aggregation: { formula: 'sum' },
      customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
    });
    const free = await h.db.prisma.plan.findUniqueOrThrow({ where: { slug: 'free' } });
    expect(free.stripeProductId).toBeNull();
  });

  it('running it again creates nothing', async () => {
    const before = { ...fake.creates };
    const result = await syncCatalog(h.deps);
    expect(result.created).toEqual({ products: 0, prices: 0, meters: 0 });
    expect(result.archivedPrices).toEqual([]);
    expect(fake.creates).toEqual(before);
  });

  it('finds its prices by lookup key when the stored ids were lost (crash between create and save)', async () => {
    await h.db.prisma.plan.updateMany({
      data: { stripeFlatPriceId: null, stripeMeteredPriceId: null, stripeMeterId: null },
    });
    const before = { ...fake.creates };
    const result = await syncCatalog(h.deps);
    expect(result.created).toEqual({ products: 0, prices: 0, meters: 0 });
    expect(fake.creates).toEqual(before);
  });

  it('a price change creates a new Price and archives the old one; the product stays', async () => {
    const pro = await h.db.prisma.plan.findUniqueOrThrow({ where: { slug: 'pro' } });
    const oldFlat = pro.stripeFlatPriceId!;
    const oldMetered = pro.stripeMeteredPriceId!;
    await h.db.prisma.plan.update({ where: { id: pro.id }, data: { priceCents: 24_900 } });
    const result = await syncCatalog(h.deps);
    expect(result.created).toEqual({ products: 0, prices: 1, meters: 0 });
    expect(result.archivedPrices).toEqual([oldFlat]);
    const after = await h.db.prisma.plan.findUniqueOrThrow({ where: { id: pro.id } });
    expect(after.stripeFlatPriceId).not.toBe(oldFlat);
    expect(after.stripeMeteredPriceId).toBe(oldMetered);
    expect(fake.prices.get(oldFlat)?.active).toBe(false);
    expect(fake.prices.get(after.stripeFlatPriceId!)).toMatchObject({ unit_amount: 24_900, active: true });
    // and it is stable again
    expect((await syncCatalog(h.deps)).created).toEqual({ products: 0, prices: 0, meters: 0 });
  });
});

describe('catalog sync against stripe-mock', () => {
  let mock: Harness;
  beforeAll(async () => {
    mock = await createHarness({ stripeApiBase: STRIPE_MOCK_BASE });
    await createPlan(mock.db.prisma, { slug: 'starter', priceCents: 4900 });
    await createPlan(mock.db.prisma, {
      slug: 'pro',
      priceCents: 19_900,
      capMode: 'soft',
      overageUnitPriceDecimal: '0.04',
      overageCeiling: null,
    });
  });
  afterAll(() => mock?.close());

  it('every request of a sync is accepted by Stripe’s OpenAPI spec', async () => {
    const result = await syncCatalog(mock.deps);
    expect(result.plans).toBe(2);
    const pro = await mock.db.prisma.plan.findUniqueOrThrow({ where: { slug: 'pro' } });
    expect(pro.stripeMeteredPriceId).toMatch(/^price_/);
  });
});
