import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseTrustedProxies } from '@tollgate/config';
import {
  generateApiKey,
  type Limiter,
  MemoryLimiter,
  MemoryUsageSink,
  type Plan,
  type UsageEventSink,
} from '@tollgate/core';
import pino from 'pino';
import { AccessLog } from '../access-log.ts';
import { buildApp } from '../app.ts';
import { ConfigProbation } from '../control-plane/config-probation.ts';
import { ControlPlane } from '../control-plane/control-plane.ts';
import type { ControlPlaneSource, KeyRecord, RawSnapshot } from '../control-plane/types.ts';
import type { AdmissionOptions } from '../enforcement/admission.ts';
import type { BodyRateOptions } from '../enforcement/body-rate.ts';
import type { LoadShedOptions } from '../enforcement/load-shed.ts';
import { ApiKeyResolver, type ApiKeyResolverOptions } from '../identity/resolve-api-key.ts';
import { type JwtOptions, JwtVerifier } from '../identity/verify-jwt.ts';
import { createMetrics } from '../metrics.ts';
import { EgressPolicy } from '../proxy/egress-policy.ts';
import { HealthChecker } from '../proxy/health-checker.ts';
import { TargetRegistry } from '../proxy/upstream.ts';

/** Test fixtures: a recording echo upstream, a static control-plane source, a gateway on memory ports. */

export interface EchoRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  bodyBytes: number;
}

export interface Echo {
  url: string;
  port: number;
  requests: EchoRequest[];
  server: Server;
  close(): Promise<void>;
}

/**
 * Echo upstream. Paths: `/status/<code>` answers that status; `/slow/<ms>` waits first;
 * `/bytes/<n>` answers n bytes; `/health` 200; anything else echoes the request as JSON.
 */
export async function startEcho(port = 0): Promise<Echo> {
  const requests: EchoRequest[] = [];
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    req.on('end', () => {
      const url = req.url ?? '/';
      const rec: EchoRequest = {
        method: req.method ?? '',
        url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes: bytes,
      };
      requests.push(rec);
      const parts = url.split('?')[0]!.split('/');
      const verbIdx = parts.findIndex((p) => p === 'status' || p === 'slow' || p === 'bytes');
      const verb = verbIdx >= 0 ? parts[verbIdx] : undefined;
      const arg = verbIdx >= 0 ? Number(parts[verbIdx + 1]) : 0;
      if (verb === 'status') {
        const body = `{"status":${arg}}`;
        res.writeHead(arg, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      if (verb === 'bytes') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': arg });
        res.end(Buffer.alloc(arg, 97));
        return;
      }
      const send = () => {
        if (res.destroyed) return;
        const body = JSON.stringify({ method: rec.method, url, headers: req.headers, bodyBytes: bytes });
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          connection: 'keep-alive, x-upstream-hop',
          'x-upstream-hop': 'secret',
          'keep-alive': 'timeout=77',
        });
        res.end(body);
      };
      if (verb === 'slow') setTimeout(send, arg);
      else send();
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const addr = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    port: addr.port,
    requests,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const IDS = {
  api: '00000000-0000-4000-8000-000000000a01',
  routeAll: '00000000-0000-4000-8000-000000000b01',
  routeHeavy: '00000000-0000-4000-8000-000000000b02',
  routePublic: '00000000-0000-4000-8000-000000000b03',
  routeSlow: '00000000-0000-4000-8000-000000000b04',
  routeAdmin: '00000000-0000-4000-8000-000000000b05',
  plan: '00000000-0000-4000-8000-000000000c01',
  consumer: '00000000-0000-4000-8000-000000000d01',
  consumer2: '00000000-0000-4000-8000-000000000d02',
  suspended: '00000000-0000-4000-8000-000000000d03',
  noSub: '00000000-0000-4000-8000-000000000d04',
  sub: '00000000-0000-4000-8000-000000000e01',
  sub2: '00000000-0000-4000-8000-000000000e02',
  subSuspended: '00000000-0000-4000-8000-000000000e03',
} as const;

export function basePlan(overrides: Partial<Plan> = {}): Plan {
  return {
    id: IDS.plan,
    slug: 'starter',
    name: 'Starter',
    quota: 1000,
    quotaPeriod: 'month',
    rateLimitPerSecond: null,
    burst: null,
    limitScope: 'consumer',
    priceCents: 1000,
    currency: 'usd',
    capMode: 'hard',
    overageUnitPriceDecimal: null,
    overageCeiling: null,
    trialDays: 0,
    visibility: 'public',
    countUpstreamErrors: false,
    redisFailurePolicy: 'fail_closed',
    ...overrides,
  };
}

/** One API at /echo with routes: everything (cost 1), /heavy (cost 5), /public, /slow (100 ms timeout), /admin (not in the plan). */
export function fixtureSnapshot(upstreamUrl: string | string[], plan: Partial<Plan> = {}): RawSnapshot {
  const urls = Array.isArray(upstreamUrl) ? upstreamUrl : [upstreamUrl];
  const periodStart = new Date(Date.UTC(2026, 0, 15));
  const sub = (id: string, consumerId: string) => ({
    id,
    consumerId,
    planId: IDS.plan,
    status: 'active' as const,
    currentPeriodStart: periodStart,
    currentPeriodEnd: new Date(Date.UTC(2026, 1, 15)),
    billingAnchor: periodStart,
    graceUntil: null,
  });
  return {
    version: null,
    apis: [
      {
        id: IDS.api,
        slug: 'echo',
        hosts: [],
        basePath: '/echo',
        stripBasePath: true,
        upstreamHost: 'echo.internal',
        loadBalancing: 'round_robin',
        maxBodyBytes: 1024 * 1024,
        targets: urls.map((url, i) => ({ id: `t${i}`, url, weight: 1, healthCheckPath: null })),
        routes: [
          {
            id: IDS.routeAll,
            name: 'all',
            methods: [],
            path: '/',
            cost: 1,
            timeoutMs: 5000,
            public: false,
            pathMatch: 'prefix',
          },
          {
            id: IDS.routeHeavy,
            name: 'heavy',
            methods: ['POST', 'GET'],
            path: '/heavy',
            cost: 5,
            timeoutMs: 5000,
            public: false,
            pathMatch: 'prefix',
          },
          {
            id: IDS.routePublic,
            name: 'public',
            methods: [],
            path: '/public',
            cost: 1,
            timeoutMs: 5000,
            public: true,
            pathMatch: 'prefix',
          },
          {
            id: IDS.routeSlow,
            name: 'slow',
            methods: [],
            path: '/slow',
            cost: 1,
            timeoutMs: 100,
            public: false,
            pathMatch: 'prefix',
          },
          {
            id: IDS.routeAdmin,
            name: 'admin',
            methods: [],
            path: '/admin',
            cost: 1,
            timeoutMs: 5000,
            public: false,
            pathMatch: 'prefix',
          },
        ],
      },
    ],
    plans: [
      {
        ...basePlan(plan),
        entitlements: [
          { apiId: IDS.api, routeId: IDS.routeAll },
          { apiId: IDS.api, routeId: IDS.routeHeavy },
          { apiId: IDS.api, routeId: IDS.routePublic },
          { apiId: IDS.api, routeId: IDS.routeSlow },
        ],
      },
    ],
    consumers: [
      { id: IDS.consumer, status: 'active' },
      { id: IDS.consumer2, status: 'active' },
      { id: IDS.suspended, status: 'suspended' },
      { id: IDS.noSub, status: 'active' },
    ],
    subscriptions: [
      sub(IDS.sub, IDS.consumer),
      sub(IDS.sub2, IDS.consumer2),
      sub(IDS.subSuspended, IDS.suspended),
    ],
  };
}

export class StaticSource implements ControlPlaneSource {
  keys = new Map<string, KeyRecord>();
  lookups = 0;
  failLoads = false;
  failKeys = false;
  private listeners: { onChange(table: string): void }[] = [];

  constructor(public snapshot: RawSnapshot) {}

  async loadSnapshot(): Promise<RawSnapshot> {
    if (this.failLoads) throw new Error('postgres down');
    return structuredClone(this.snapshot);
  }

  async findKeyByHash(hash: string): Promise<KeyRecord | null> {
    this.lookups++;
    if (this.failKeys) throw new Error('postgres down');
    return this.keys.get(hash) ?? null;
  }

  async listen(handlers: { onChange(table: string): void }): Promise<() => Promise<void>> {
    this.listeners.push(handlers);
    return async () => {};
  }

  notify(table: string): void {
    for (const l of this.listeners) l.onChange(table);
  }

  async close(): Promise<void> {}

  addKey(consumerId: string, rec: Partial<KeyRecord> = {}): { key: string; id: string } {
    const k = generateApiKey('live');
    const id = `00000000-0000-4000-8000-${String(this.keys.size + 1).padStart(12, '0')}`;
    this.keys.set(k.hash, { id, consumerId, expiresAt: null, revokedAt: null, ...rec });
    return { key: k.key, id };
  }
}

export interface TestGatewayOptions {
  limiter?: Limiter;
  sink?: UsageEventSink;
  jwt?: JwtOptions;
  trustedProxies?: string[];
  keyTtlMs?: number;
  retries?: number;
  headersTimeoutMs?: number;
  /** GATEWAY_UPSTREAM_ALLOW; default `127.0.0.1`, where the echo upstream listens. */
  upstreamAllow?: string[];
  /** Active health checks at this period, and the automatic rollback when the source can restore. */
  health?: { intervalMs: number; failedChecks?: number };
  instanceId?: string;
  /** Upstream pool size per target (default 16). */
  connections?: number;
  admission?: Partial<AdmissionOptions>;
  bodyRate?: Partial<BodyRateOptions>;
  loadShed?: Partial<LoadShedOptions>;
  /** Key resolver options beyond the defaults below. */
  keys?: Partial<Omit<ApiKeyResolverOptions, 'ttlMs'>>;
}

/** The whole pipeline in-process on memory ports, over any control-plane source (a StaticSource, or Postgres). */
export async function buildTestGateway(source: ControlPlaneSource, opts: TestGatewayOptions = {}) {
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics();
  const egress = new EgressPolicy(opts.upstreamAllow ?? ['127.0.0.1']);
  const registry = new TargetRegistry({
    connections: opts.connections ?? 16,
    connectTimeoutMs: 1000,
    passiveFailures: 3,
    breakerFailures: 5,
    breakerOpenMs: 10_000,
    egress,
    onEgressRefused: (_target, err) => metrics.upstreamForbidden.inc({ reason: err.verdict }),
  });
  const keys = new ApiKeyResolver(
    (h) => source.findKeyByHash(h),
    {
      ttlMs: opts.keyTtlMs ?? 5000,
      negativeTtlMs: 2000,
      maxEntries: 1000,
      negativeMaxEntries: 1000,
      // Generous in tests that are not about the budget: every test request comes from 127.0.0.1.
      budget: { perSecond: 1000, burst: 1000, maxAddresses: 1000 },
      gate: { concurrency: 4, queue: 256 },
      ...opts.keys,
    },
    metrics,
  );
  const instanceId = opts.instanceId ?? 'gateway/test';
  const restore = source.restoreApis?.bind(source);
  const probation =
    opts.health === undefined || restore === undefined
      ? null
      : new ConfigProbation({
          failedChecks: opts.health.failedChecks ?? 3,
          maxAgeMs: 120_000,
          instanceId,
          restore,
          metrics,
          logger,
        });
  const controlPlane = new ControlPlane({
    source,
    registry,
    metrics,
    logger,
    defaultMaxBodyBytes: 1024 * 1024,
    resyncMs: 60_000,
    debounceMs: 1,
    onKeysChanged: () => keys.clear(),
    onApplied: probation === null ? undefined : (previous, next) => probation.onApplied(previous, next),
  });
  await controlPlane.start();
  const health =
    opts.health === undefined
      ? null
      : new HealthChecker(registry, {
          intervalMs: opts.health.intervalMs,
          timeoutMs: Math.min(1000, opts.health.intervalMs),
          onResult: probation === null ? undefined : (t, ok) => probation.onHealthResult(t, ok),
        });
  health?.start();
  const sink = opts.sink ?? new MemoryUsageSink();
  const limiter = opts.limiter ?? new MemoryLimiter();
  const app = buildApp({
    controlPlane,
    keys,
    jwt: opts.jwt === undefined ? null : new JwtVerifier(opts.jwt, metrics),
    limiter,
    fallbackLimiter: new MemoryLimiter(),
    sink,
    metrics,
    accessLog: AccessLog.off(),
    logger,
    options: {
      instanceId,
      trustedProxies: parseTrustedProxies(opts.trustedProxies ?? []),
      consumerHeader: 'x-tollgate-consumer',
      planHeader: 'x-tollgate-plan',
      retries: opts.retries ?? 1,
      failClosedRetryAfterS: 1,
      admission: { maxPerAddress: 64, maxPerConsumer: 256, upstreamShare: 0.25, ...opts.admission },
      bodyRate: { minBytesPerS: 1024, graceMs: 5_000, ...opts.bodyRate },
      // Load shedding by loop lag off by default here: unit tests share a loaded machine, and a
      // test gateway lives in the test runner's busy event loop. The in-flight bound stays on.
      loadShed: { maxInFlight: 10_000, maxLoopLagMs: 0, ...opts.loadShed },
    },
    limits: {
      maxHeaderBytes: 16_384,
      headersTimeoutMs: opts.headersTimeoutMs ?? 5_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
    },
  });
  return {
    app,
    sink,
    limiter,
    metrics,
    controlPlane,
    keys,
    registry,
    egress,
    probation,
    health,
    async close() {
      health?.stop();
      await app.close();
      await controlPlane.close();
      await registry.close();
    },
  };
}

export type TestGateway = Awaited<ReturnType<typeof buildTestGateway>>;
