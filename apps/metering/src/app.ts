import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { UsageStore } from '@tollgate/clickhouse';
import type { z } from '@tollgate/config';
import { isTollgateError, serviceTokenMatcher, TollgateError, toProblem } from '@tollgate/core';
import { databaseError, type PrismaClient } from '@tollgate/db';
import { fastifyClientError, unservedMethods } from '@tollgate/service-kit';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import { buildOpenApiDocument } from './http/openapi.ts';
import {
  AlertsQuerySchema,
  FinanceQuerySchema,
  LatencyQuerySchema,
  QuotaQuerySchema,
  RollupQuerySchema,
  TimeseriesQuerySchema,
  TotalsQuerySchema,
} from './http/schemas.ts';
import type { IngestStatus } from './ingest/start-ingest.ts';
import { financeCsvHeader, financeCsvRecord, financeReportRows } from './usage/build-finance-report.ts';
import { getQuotaUsage } from './usage/get-quota-usage.ts';

export interface AppDeps {
  usage: UsageStore;
  prisma: PrismaClient;
  /** METERING_SERVICE_TOKEN: the bearer token the portal and billing present. */
  serviceToken: string;
  /** Readiness probes of the stores; each resolves true when it answers. */
  probes: { clickhouse: () => Promise<boolean>; postgres: () => Promise<boolean> };
  /** Prometheus registry served at GET /metrics (aggregates only, no tenant data). */
  metrics?: Registry;
  /** The ingest's state, reported by /readyz for operators (not part of readiness). */
  ingestStatus?: () => IngestStatus;
  now?: () => Date;
  logger?: FastifyServerOptions['logger'];
}

/** Validates a query with zod; a 400 problem lists every issue with its parameter. */
function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  const result = schema.safeParse(query);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({
    path: issue.path.join('.') || '(query)',
    message: issue.message,
  }));
  throw new TollgateError('invalid', 'INVALID_QUERY', 'The query parameters are invalid.', {
    details: { errors },
  });
}

/**
 * Store failures are a 503 the caller may retry, not an opaque 500; a value Postgres refuses
 * is the request's fault and keeps its 4xx.
 */
async function fromStore<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isTollgateError(err)) throw err;
    const refused = databaseError(err);
    if (refused !== undefined && refused.status < 500) throw refused;
    throw new TollgateError('unavailable', 'STORE_UNAVAILABLE', `${what} is unavailable.`, { cause: err });
  }
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const now = deps.now ?? (() => new Date());
  const methods = unservedMethods();
  const app = Fastify({
    logger: deps.logger ?? false,
    clientErrorHandler: methods.clientErrorHandler,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    },
  });
  const serviceTokenMatches = serviceTokenMatcher(deps.serviceToken);
  const openapi = buildOpenApiDocument();

  methods.install(app);

  app.setErrorHandler((err, request, reply) => {
    const known = isTollgateError(err) ? err : (databaseError(err) ?? fastifyClientError(err) ?? err);
    if (!isTollgateError(known) || known.status >= 500) request.log.error({ err }, 'request failed');
    const problem = toProblem(known, request.id);
    if (problem.status === 401) reply.header('www-authenticate', 'Bearer');
    reply.status(problem.status).type('application/problem+json').send(problem);
  });
  app.setNotFoundHandler((request, reply) => {
    const problem = toProblem(
      new TollgateError('not_found', 'ROUTE_NOT_FOUND', 'No such route.'),
      request.id,
    );
    reply.status(404).type('application/problem+json').send(problem);
  });

  // Service token on every /v1 route (core's constant-time check). Decided on the matched route,
  // never on the raw URL: `/%761/usage/totals` reaches the /v1 route but does not start with "/v1/".
  app.addHook('onRequest', async (request) => {
    if (!request.routeOptions.url?.startsWith('/v1/')) return;
    if (!serviceTokenMatches(request.headers.authorization)) {
      throw new TollgateError(
        'unauthenticated',
        'SERVICE_TOKEN_REQUIRED',
        'A valid service token is required.',
      );
    }
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const check = (probe: () => Promise<boolean>) => probe().catch(() => false);
    const [clickhouse, postgres] = await Promise.all([
      check(deps.probes.clickhouse),
      check(deps.probes.postgres),
    ]);
    const ready = clickhouse && postgres;
    reply.status(ready ? 200 : 503);
    const ingest = deps.ingestStatus?.();
    return {
      status: ready ? 'ready' : 'unavailable',
      clickhouse,
      postgres,
      ...(ingest === undefined ? {} : { ingest }),
    };
  });
  app.get('/openapi.json', async () => openapi);
  const registry = deps.metrics;
  if (registry !== undefined) {
    app.get('/metrics', async (_request, reply) => {
      reply.type(registry.contentType);
      return registry.metrics();
    });
  }

  app.get('/v1/usage/totals', async (request) => {
    const q = parseQuery(TotalsQuerySchema, request.query);
    const from = new Date(q.from);
    const to = new Date(q.to);
    const totals = await fromStore('ClickHouse', () =>
      deps.usage.totals({ consumerId: q.consumerId, from, to }),
    );
    return { consumerId: q.consumerId, from: from.toISOString(), to: to.toISOString(), ...totals };
  });

  app.get('/v1/usage/timeseries', async (request) => {
    const q = parseQuery(TimeseriesQuerySchema, request.query);
    const points = await fromStore('ClickHouse', () =>
      deps.usage.timeseries({
        consumerId: q.consumerId,
        from: new Date(q.from),
        to: new Date(q.to),
        granularity: q.granularity,
        groupBy: q.groupBy,
      }),
    );
    return { consumerId: q.consumerId, granularity: q.granularity, groupBy: q.groupBy ?? null, points };
  });

  app.get('/v1/usage/rollup', async (request) => {
    const q = parseQuery(RollupQuerySchema, request.query);
    const points = await fromStore('ClickHouse', () =>
      deps.usage.rollupTimeseries({
        consumerId: q.consumerId,
        from: new Date(q.from),
        to: new Date(q.to),
        granularity: q.granularity,
        groupBy: q.groupBy,
      }),
    );
    return {
      consumerId: q.consumerId,
      granularity: q.granularity,
      groupBy: q.groupBy ?? null,
      approximate: true,
      points,
    };
  });

  app.get('/v1/usage/latency', async (request) => {
    const q = parseQuery(LatencyQuerySchema, request.query);
    const from = new Date(q.from);
    const to = new Date(q.to);
    const routes = await fromStore('ClickHouse', () =>
      deps.usage.latency({ consumerId: q.consumerId, from, to }),
    );
    return { consumerId: q.consumerId, from: from.toISOString(), to: to.toISOString(), routes };
  });

  app.get('/v1/usage/quota', async (request) => {
    const q = parseQuery(QuotaQuerySchema, request.query);
    return fromStore('The usage store', () =>
      getQuotaUsage({ prisma: deps.prisma, usage: deps.usage, now: now() }, q.consumerId),
    );
  });

  app.get('/v1/reports/finance', async (request, reply) => {
    const q = parseQuery(FinanceQuerySchema, request.query);
    const range = { from: new Date(q.from), to: new Date(q.to) };
    const rows = financeReportRows({ prisma: deps.prisma, usage: deps.usage }, range);
    if (q.format === 'json') {
      const consumers = await fromStore('The usage store', async () => {
        const all = [];
        for await (const row of rows) all.push(row);
        return all;
      });
      return { from: range.from.toISOString(), to: range.to.toISOString(), consumers };
    }
    // The first row is read before the status is sent, so a store failure is still a 503
    // problem; after that rows stream as ClickHouse returns them.
    const first = await fromStore('The usage store', () => rows.next());
    async function* csv() {
      yield financeCsvHeader();
      if (first.done) return;
      yield financeCsvRecord(first.value);
      for await (const row of rows) yield financeCsvRecord(row);
    }
    const name = `tollgate-finance-${q.from.slice(0, 10)}-${q.to.slice(0, 10)}.csv`.replace(/[^\w.-]/g, '_');
    reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${name}"`)
      .header('cache-control', 'no-store');
    return reply.send(Readable.from(csv()));
  });

  app.get('/v1/alerts', async (request) => {
    const q = parseQuery(AlertsQuerySchema, request.query);
    const alerts = await fromStore('Postgres', () =>
      deps.prisma.usageAlert.findMany({
        where: { consumerId: q.consumerId },
        orderBy: [{ createdAt: 'desc' }, { threshold: 'desc' }],
      }),
    );
    return {
      alerts: alerts.map((a) => ({
        id: a.id,
        consumerId: a.consumerId,
        subscriptionId: a.subscriptionId,
        periodStart: a.periodStart.toISOString(),
        threshold: a.threshold,
        usedUnits: Number(a.usedUnits),
        quota: Number(a.quota),
        createdAt: a.createdAt.toISOString(),
        deliveredAt: a.deliveredAt?.toISOString() ?? null,
        attempts: a.attempts,
        lastError: a.lastError,
      })),
    };
  });

  return app;
}
