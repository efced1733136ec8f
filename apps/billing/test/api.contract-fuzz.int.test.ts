import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzz, fuzzReport, installSchemathesis } from '../../../infra/testing/schemathesis.ts';
import { buildApp } from '../src/app.ts';
import { syncCatalog } from '../src/catalog/sync-catalog.ts';
import { createHarness, createPlan, type Harness, SERVICE_TOKEN, STRIPE_MOCK_BASE } from './helpers.ts';

/**
 * Issue 10 acceptance: a schema-based fuzz of the billing API driven by its OpenAPI document
 * (/openapi.json), over real Postgres and ClickHouse and the shared stripe-mock: no 5xx, no
 * status or content type the document does not declare, no response outside its schema, 405 +
 * Allow for undeclared methods, every request the document calls invalid refused and every
 * request it calls valid accepted (where that cannot hold, the exception says why).
 */
const SEED = 20261203;
/** Test cases per operation and phase: with the coverage and stateful phases, ~1,400 requests. */
const MAX_EXAMPLES = 80;
const MIN_REQUESTS = 1000;
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
  'response_headers_conformance',
  'unsupported_method',
  'allow_header_conformance',
  'negative_data_rejection',
  'positive_data_acceptance',
];

describe('billing API contract fuzz (schemathesis, stripe-mock)', () => {
  let h: Harness;
  let app: FastifyInstance;
  const known = { consumerId: [] as string[], planId: [] as string[] };

  beforeAll(async () => {
    [h] = await Promise.all([createHarness({ stripeApiBase: STRIPE_MOCK_BASE }), installSchemathesis()]);
    app = await buildApp(h.deps, { runUsageOnce: async () => {} });
    const prisma = h.db.prisma;
    const plans = [
      await createPlan(prisma, { slug: 'free', priceCents: 0 }),
      await createPlan(prisma, { slug: 'starter', priceCents: 4900, quota: 50_000 }),
      await createPlan(prisma, {
        slug: 'pro',
        priceCents: 19_900,
        quota: 500_000,
        capMode: 'soft',
        overageUnitPriceDecimal: '0.04',
      }),
    ];
    await syncCatalog(h.deps);
    // A consumer with nothing yet, and one on Starter through Stripe (stripe-mock's fixtures).
    const newcomer = await prisma.consumer.create({ data: { name: 'Newcomer' } });
    const customer = await prisma.consumer.create({
      data: { name: 'Customer', stripeCustomerId: 'cus_fuzz' },
    });
    await prisma.subscription.create({
      data: {
        consumerId: customer.id,
        planId: plans[1]!.id,
        status: 'active',
        currentPeriodStart: new Date(Date.now() - 86_400_000),
        currentPeriodEnd: new Date(Date.now() + 29 * 86_400_000),
        stripeCustomerId: 'cus_fuzz',
        stripeSubscriptionId: 'sub_fuzz',
      },
    });
    known.consumerId.push(newcomer.id, customer.id);
    known.planId.push(...plans.map((p) => p.id));
    await app.listen({ host: '127.0.0.1', port: 0 });
  }, 600_000);

  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it('no 5xx, only declared statuses and schemas, 405 + Allow, invalid refused and valid accepted', async () => {
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    const started = Date.now();
    const result = await fuzz({
      schemaUrl: `${base}/openapi.json`,
      baseUrl: base,
      headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
      checks: CHECKS,
      maxExamples: MAX_EXAMPLES,
      seed: SEED,
      knownValues: known,
      exceptions: [
        {
          operationId: 'stripeWebhook',
          check: 'positive_data_acceptance',
          reason:
            'a valid Stripe-Signature is an HMAC of the exact body under the webhook secret, which no ' +
            'generated request has (every other check still runs on it; webhooks.int.test.ts signs real events)',
        },
      ],
      timeoutMs: 300_000,
    });
    console.log(
      `billing API fuzz: ${result.requests} requests in ${Math.round((Date.now() - started) / 1000)} s; ` +
        `statuses ${JSON.stringify(result.statuses)}`,
    );
    expect(result.serverErrors, fuzzReport(result)).toEqual([]);
    expect(result.exitCode, fuzzReport(result)).toBe(0);
    expect(result.requests).toBeGreaterThanOrEqual(MIN_REQUESTS);
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    for (const [path, item] of Object.entries(doc.paths))
      for (const method of Object.keys(item))
        expect(
          result.operations[`${method.toUpperCase()} ${path}`] ?? 0,
          `${method} ${path}`,
        ).toBeGreaterThan(0);
  }, 360_000);
});
