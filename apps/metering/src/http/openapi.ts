import { z } from '@tollgate/config';
import {
  AlertsQuerySchema,
  AlertsResponseSchema,
  FinanceQuerySchema,
  FinanceReportResponseSchema,
  LatencyQuerySchema,
  LatencyResponseSchema,
  MAX_RANGE_MS,
  ProblemSchema,
  QuotaQuerySchema,
  QuotaResponseSchema,
  RollupQuerySchema,
  RollupResponseSchema,
  TimeseriesQuerySchema,
  TimeseriesResponseSchema,
  TotalsQuerySchema,
  TotalsResponseSchema,
} from './schemas.ts';

/**
 * The OpenAPI 3.1 document of the usage API, generated from the same zod schemas that validate
 * requests (z.toJSONSchema emits JSON Schema 2020-12, which OpenAPI 3.1 uses as is), so the
 * document cannot drift from what the server accepts.
 */
type JsonSchema = Record<string, unknown> & { properties?: Record<string, unknown>; required?: string[] };

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function queryParameters(schema: z.ZodType, range: boolean) {
  const js = jsonSchema(schema, 'input');
  const required = new Set(js.required ?? []);
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    ...(range && name === 'to'
      ? { description: `After \`from\`, at most ${RANGE_RULE.maxDays} days after it` }
      : {}),
    schema: s,
  }));
}

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/**
 * The cross-field rule of every ranged query (schemas.ts `range`), which JSON Schema cannot
 * state: `to` after `from`, at most MAX_RANGE_MS later. Said in words on `to`, and for tools as
 * an extension (the contract fuzz's generator reads it: infra/schemathesis/hooks.py).
 */
const RANGE_RULE = { from: 'from', to: 'to', maxDays: MAX_RANGE_MS / 86_400_000 };

function operation(opts: {
  id: string;
  summary: string;
  query: z.ZodType;
  response: z.ZodType;
  csv?: boolean;
  /** The query is a time range (from, to). */
  range?: boolean;
  /** Answers besides 200, 400, 401 and 503. */
  more?: Record<string, unknown>;
}) {
  const content: Record<string, unknown> = {
    'application/json': { schema: jsonSchema(opts.response, 'output') },
  };
  if (opts.csv) content['text/csv'] = { schema: { type: 'string' } };
  return {
    get: {
      operationId: opts.id,
      summary: opts.summary,
      security: [{ serviceToken: [] }],
      parameters: queryParameters(opts.query, opts.range === true),
      ...(opts.range ? { 'x-tollgate-range': RANGE_RULE } : {}),
      responses: {
        '200': { description: 'OK', content },
        '400': problem('Invalid query: every problem is listed in `errors`'),
        '401': problem('Missing or wrong service token'),
        ...opts.more,
        '503': problem('ClickHouse or Postgres unavailable'),
      },
    },
  };
}

export function buildOpenApiDocument() {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tollgate usage API',
      version: '1.0.0',
      description:
        'Usage totals, time series, latency, quota usage, finance reports and alerts. Figures come from ' +
        'usage events deduplicated by event id: a replayed event never changes them.',
    },
    components: {
      securitySchemes: {
        serviceToken: { type: 'http', scheme: 'bearer', description: 'METERING_SERVICE_TOKEN' },
      },
      schemas: { Problem: jsonSchema(ProblemSchema, 'output') },
    },
    paths: {
      '/v1/usage/totals': operation({
        id: 'getUsageTotals',
        range: true,
        summary: 'Requests, billable units and errors of a consumer in [from, to)',
        query: TotalsQuerySchema,
        response: TotalsResponseSchema,
      }),
      '/v1/usage/timeseries': operation({
        id: 'getUsageTimeseries',
        range: true,
        summary: 'Counters per hour, day or month (UTC), optionally grouped by api, route, key or status',
        query: TimeseriesQuerySchema,
        response: TimeseriesResponseSchema,
      }),
      '/v1/usage/rollup': operation({
        id: 'getUsageRollup',
        range: true,
        summary:
          'Dashboard series from the hourly/daily rollups: cheap over long ranges but approximate (redelivered ' +
          'events count again); use /v1/usage/timeseries for exact figures',
        query: RollupQuerySchema,
        response: RollupResponseSchema,
      }),
      '/v1/usage/latency': operation({
        id: 'getUsageLatency',
        range: true,
        summary: 'Exact p50/p95/p99 latency per route',
        query: LatencyQuerySchema,
        response: LatencyResponseSchema,
      }),
      '/v1/usage/quota': operation({
        id: 'getQuotaUsage',
        summary: "Usage of the current quota period of the consumer's live subscription",
        query: QuotaQuerySchema,
        response: QuotaResponseSchema,
        more: { '404': problem('The consumer has no live subscription') },
      }),
      '/v1/reports/finance': operation({
        id: 'getFinanceReport',
        range: true,
        summary:
          'Every consumer: plan, requests, billable units, errors, amount. format=csv streams RFC 4180 CSV; ' +
          "text cells starting with = + - @ are prefixed with ' against formula injection",
        query: FinanceQuerySchema,
        response: FinanceReportResponseSchema,
        csv: true,
      }),
      '/v1/alerts': operation({
        id: 'listAlerts',
        summary: 'Quota alerts raised for a consumer (80, 95, 100 % of the period quota), newest first',
        query: AlertsQuerySchema,
        response: AlertsResponseSchema,
      }),
      '/healthz': {
        get: {
          operationId: 'healthz',
          summary: 'Process is up',
          responses: { '200': { description: 'OK' } },
        },
      },
      '/readyz': {
        get: {
          operationId: 'readyz',
          summary: 'ClickHouse and Postgres answer',
          responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready' } },
        },
      },
    },
  };
}
