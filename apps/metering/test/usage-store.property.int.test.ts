import {
  createUsageStore,
  readClickhouseMigrations,
  type SqlRunner,
  type UsageStore,
} from '@tollgate/clickhouse';
import {
  CLICKHOUSE_MIGRATIONS_DIR,
  createTestClickhouseDatabase,
  type TestClickhouseDatabase,
} from '@tollgate/clickhouse/testing';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseDateTime, toUsageEventRow, type UsageEventRow } from '../src/ingest/event-row.ts';
import {
  FINANCE_CSV_COLUMNS,
  financeCsvRecord,
  financeReportRows,
} from '../src/usage/build-finance-report.ts';
import { createChdbRunner } from './chdb-runner.ts';
import { quietly } from './cleanup.ts';
import { parseCsv } from './csv-parse.ts';
import { clickhouseRunner, makeEvent } from './helpers.ts';

/**
 * The usage store's figures for one subscription and billing period agree, on both ClickHouse
 * engines, over generated event sets: redelivered copies, events that arrive late (after a
 * first reading), events without a subscription id before and after the subscription's
 * creation, non-billable events, and a plan change mid-period (same subscription, the events'
 * plan id changes). The figures: the portal's total (store.totals, as get-quota-usage reads it),
 * the finance CSV's billable_units, the reconciliation's ClickHouse and gateway columns
 * (store.subscriptionTotals) and the units billing sends to Stripe (store.billableWindows,
 * summed). The consumer-wide figures (portal, finance) also hold the units used before the
 * subscription existed, which billing carries over (store.consumerBillableUnits); all are
 * checked against a model computed here from the generated events.
 */
const PERIOD_START = Date.UTC(2026, 10, 1);
const PERIOD_END = Date.UTC(2026, 11, 1);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface GeneratedEvent {
  /** ms from the period start; negative and past the end fall outside the period. */
  at: number;
  stamped: boolean;
  billable: boolean;
  units: number;
  copies: number;
  late: boolean;
}

const eventArb: fc.Arbitrary<GeneratedEvent> = fc.record({
  at: fc.oneof(fc.integer({ min: -2000, max: 3000 }), fc.integer({ min: -3 * DAY, max: 33 * DAY })),
  stamped: fc.boolean(),
  billable: fc.boolean(),
  units: fc.integer({ min: 1, max: 9 }),
  copies: fc.integer({ min: 0, max: 2 }),
  late: fc.boolean(),
});

const scenarioArb = fc.record({
  createdAfter: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 4 * DAY })),
  planChangeAt: fc.integer({ min: 5 * DAY, max: 25 * DAY }),
  events: fc.array(eventArb, { minLength: 1, maxLength: 40 }),
  noise: fc.array(eventArb, { maxLength: 10 }),
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

let run = 0;

function rowsOf(s: Scenario, consumerId: string, subscriptionId: string, createdAt: number) {
  const onTime: UsageEventRow[] = [];
  const late: UsageEventRow[] = [];
  const build = (g: GeneratedEvent, consumer: string, subscription: string | null) => {
    const time = PERIOD_START + g.at;
    const base = makeEvent({
      consumerId: consumer,
      time: new Date(time),
      units: g.units,
      billable: g.billable,
    });
    const event = {
      ...base,
      data: {
        ...base.data,
        subscriptionId: subscription,
        planId: time < PERIOD_START + s.planChangeAt ? 'plan-small' : 'plan-large',
      },
    };
    const ingested = time + (g.late ? 2 * DAY : 1000);
    const r = toUsageEventRow(event, new Date(ingested));
    if (!r.ok) throw new Error(r.reason);
    (g.late ? late : onTime).push(r.row);
    // Redelivered copies: the same event again, ingested later (a copy of an on-time event may
    // itself arrive late).
    for (let c = 1; c <= g.copies; c++) {
      const copy = { ...r.row, ingested_at: clickhouseDateTime(new Date(ingested + c * HOUR)) };
      (g.late || c === 2 ? late : onTime).push(copy);
    }
  };
  for (const g of s.events) {
    // The gateway stamps the subscription id only once the subscription exists.
    const stamped = g.stamped && PERIOD_START + g.at >= createdAt;
    build(g, consumerId, stamped ? subscriptionId : null);
  }
  for (const g of s.noise) build(g, `${consumerId}-other`, `${subscriptionId}-other`);
  return { onTime, late };
}

/** The figures computed from the generated events (distinct events, in the period). */
function model(s: Scenario, createdAt: number, includeLate: boolean) {
  let consumerUnits = 0;
  let consumerRequests = 0;
  let carried = 0;
  for (const g of s.events) {
    const time = PERIOD_START + g.at;
    if (time < PERIOD_START || time >= PERIOD_END) continue;
    if (g.late && !includeLate) continue;
    consumerRequests += 1;
    if (!g.billable) continue;
    consumerUnits += g.units;
    // The table keeps event time in whole seconds and the rule compares at that precision: an
    // event in the second the subscription was created in is the subscription's.
    if (Math.floor(time / 1000) < Math.floor(createdAt / 1000)) carried += g.units;
  }
  return { consumerUnits, consumerRequests, subscriptionUnits: consumerUnits - carried, carried };
}

async function figures(
  usage: UsageStore,
  db: TestDatabase,
  consumerId: string,
  subscriptionId: string,
  createdAt: Date,
) {
  const from = new Date(PERIOD_START);
  const to = new Date(PERIOD_END);
  const portal = await usage.totals({ consumerId, from, to });
  let financeUnits: number | null = null;
  let financeRequests: number | null = null;
  for await (const row of financeReportRows({ prisma: db.prisma, usage }, { from, to })) {
    if (row.consumerId !== consumerId) continue;
    const [fields] = parseCsv(financeCsvRecord(row));
    financeUnits = Number(fields![FINANCE_CSV_COLUMNS.indexOf('billable_units')]);
    financeRequests = Number(fields![FINANCE_CSV_COLUMNS.indexOf('requests')]);
  }
  const scope = { consumerId, subscriptionId, notBefore: createdAt };
  const reconciliation = await usage.subscriptionTotals({ ...scope, from, to });
  const windows = await usage.billableWindows({
    ...scope,
    from,
    to,
    windowSeconds: 3600,
    offsetSeconds: Math.floor(createdAt.getTime() / 1000) % 3600,
  });
  const carried = await usage.consumerBillableUnits({ consumerId, from, to: createdAt });
  return {
    portalUnits: portal.billableUnits,
    portalRequests: portal.requests,
    financeUnits: financeUnits ?? 0,
    financeRequests: financeRequests ?? 0,
    reconciliationUnits: Number(reconciliation.units),
    gatewayUnits: Number(reconciliation.admittedUnits),
    stripeUnits: windows.reduce((sum, w) => sum + Number(w.units), 0),
    carried: Number(carried),
  };
}

describe('usage store: one figure per subscription and period', () => {
  let ch: TestClickhouseDatabase;
  let db: TestDatabase;
  let server: ReturnType<typeof clickhouseRunner>;
  let chdb: ReturnType<typeof createChdbRunner>;

  beforeAll(async () => {
    [ch, db] = await Promise.all([createTestClickhouseDatabase(), createTestDatabase()]);
    server = clickhouseRunner(ch.url, ch.database);
    chdb = createChdbRunner('usage_store_property');
    for (const file of await readClickhouseMigrations(CLICKHOUSE_MIGRATIONS_DIR)) {
      for (const statement of file.statements) await chdb.runner.command(statement);
    }
  }, 120_000);
  afterAll(async () => {
    chdb?.session.close();
    await server?.close();
    if (ch !== undefined) await quietly('drop ClickHouse database', () => ch.drop());
    if (db !== undefined) await quietly('drop Postgres database', () => db.drop());
  });

  const engines: [string, () => SqlRunner][] = [
    ['the stack ClickHouse', () => server.runner],
    ['current ClickHouse (chdb)', () => chdb.runner],
  ];
  for (const [name, runnerOf] of engines) {
    it(`portal, finance CSV, reconciliation and Stripe units agree on ${name}`, async () => {
      const runner = runnerOf();
      const usage = createUsageStore(runner);
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (s) => {
          run += 1;
          const consumerId = `c-prop-${run}`;
          const subscriptionId = `sub-prop-${run}`;
          const createdAt = PERIOD_START + s.createdAfter;
          const { onTime, late } = rowsOf(s, consumerId, subscriptionId, createdAt);
          await runner.insert('usage_events_v1', onTime);
          for (const includeLate of [false, true]) {
            if (includeLate) await runner.insert('usage_events_v1', late);
            const want = model(s, createdAt, includeLate);
            const got = await figures(usage, db, consumerId, subscriptionId, new Date(createdAt));
            // Copies that arrive late are of events already counted, so only late events move the figures.
            expect(got).toEqual({
              portalUnits: want.consumerUnits,
              portalRequests: want.consumerRequests,
              financeUnits: want.consumerUnits,
              financeRequests: want.consumerRequests,
              reconciliationUnits: want.subscriptionUnits,
              gatewayUnits: want.subscriptionUnits,
              stripeUnits: want.subscriptionUnits,
              carried: want.carried,
            });
          }
        }),
        { numRuns: 25 },
      );
    }, 240_000);
  }
});
