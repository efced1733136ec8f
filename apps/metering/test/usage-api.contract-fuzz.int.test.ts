import { createUsageStore } from '@tollgate/clickhouse';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzz, fuzzReport, installSchemathesis } from '../../../infra/testing/schemathesis.ts';
import { toUsageEventRow } from '../src/ingest/event-row.ts';
import { createAccount, SERVICE_TOKEN, testApp } from './accounts.ts';
import { quietly } from './cleanup.ts';
import { clickhouseRunner, makeEvent } from './helpers.ts';

/**
 * Issue 10 acceptance: a schema-based fuzz of the usage API driven by its OpenAPI document
 * (/openapi.json), over real ClickHouse and Postgres: no 5xx, no status or content type the
 * document does not declare, no response outside its schema, 405 + Allow for undeclared methods,
 * every request the document calls invalid refused and every request it calls valid accepted
 * (its constraints are all in the document, the range rule included: x-tollgate-range).
 */
const SEED = 20261203;
/** Test cases per operation and phase: with the coverage phase, ~1,300 requests. */
const MAX_EXAMPLES = 150;
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

describe('usage API contract fuzz (schemathesis)', () => {
  let ch: TestClickhouseDatabase;
  let db: TestDatabase;
  let store: ReturnType<typeof clickhouseRunner>;
  let app: FastifyInstance;
  let consumerId: string;

  beforeAll(async () => {
    [ch, db] = await Promise.all([
      createTestClickhouseDatabase(),
      createTestDatabase(),
      installSchemathesis(),
    ]);
    store = clickhouseRunner(ch.url, ch.database);
    // Usage of one consumer (whose id the fuzz also draws), so the reports have rows to render.
    const account = await createAccount(db.prisma, { quota: 100, name: 'Fuzzed Co' });
    consumerId = account.consumerId;
    const rows = [0, 1, 2].map((i) => {
      const r = toUsageEventRow(
        makeEvent({ consumerId: account.consumerId, time: new Date(Date.now() - i * 3_600_000), units: 2 }),
        new Date(),
      );
      if (!r.ok) throw new Error(r.reason);
      return r.row;
    });
    await store.runner.insert('usage_events_v1', rows);
    app = testApp(createUsageStore(store.runner), db.prisma);
    await app.listen({ host: '127.0.0.1', port: 0 });
  }, 600_000);

  afterAll(async () => {
    await app?.close();
    await store?.close();
    await Promise.all([quietly('drop ClickHouse database', () => ch.drop()), db?.drop()]);
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
      knownValues: { consumerId: [consumerId] },
      timeoutMs: 300_000,
    });
    console.log(
      `usage API fuzz: ${result.requests} requests in ${Math.round((Date.now() - started) / 1000)} s; ` +
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
