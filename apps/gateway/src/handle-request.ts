import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  type LimitDecision,
  type Limiter,
  type LimitRequest,
  USAGE_EVENT_TYPE_V1,
  type UsageEventSink,
  type UsageEventV1,
  uuidv7,
} from '@tollgate/core';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { AccessLog } from './access-log.ts';
import {
  activeSubscription,
  type CompiledPlan,
  type CompiledRoute,
  type CompiledSubscription,
  type Snapshot,
} from './control-plane/compile-snapshot.ts';
import { pushRateLimitHeaders, refreshPeriod } from './enforcement/rate-limit-headers.ts';
import type { ApiKeyResolver, KeyVerdict } from './identity/resolve-api-key.ts';
import type { JwtVerdict, JwtVerifier } from './identity/verify-jwt.ts';
import type { GatewayMetrics } from './metrics.ts';
import { connectionTokens, isTrustedPeer, REQUEST_DROP, RESPONSE_DROP } from './proxy/headers.ts';
import { nextTraceparent } from './proxy/trace.ts';
import type { Target } from './proxy/upstream.ts';

/**
 * The data-plane pipeline for one request, as one `Exchange` object (no per-request closures):
 * route match → identity → subscription and entitlement → body limit → limits (one limiter
 * call) → proxy (undici dispatch, streamed both ways) → on close: refund if it did not count,
 * one usage event, metrics, one access-log line.
 */

export interface PipelineOptions {
  instanceId: string;
  trustedProxies: BlockList | null;
  /** Lowercased; '' disables. */
  consumerHeader: string;
  planHeader: string;
  retries: number;
  failClosedRetryAfterS: number;
}

export interface PipelineDeps {
  controlPlane: { readonly current: Snapshot | null };
  keys: ApiKeyResolver;
  jwt: JwtVerifier | null;
  limiter: Limiter;
  /** Per-instance limiter used when Redis fails and the plan fails open. */
  fallbackLimiter: Limiter;
  sink: UsageEventSink;
  metrics: GatewayMetrics;
  accessLog: AccessLog;
  /** Errors of the pipeline itself (the access log has one line per request). */
  logger: Logger;
  options: PipelineOptions;
}

const kExchange = Symbol('tollgate.exchange');
const kTrusted = Symbol('tollgate.trustedPeer');

type WithExchange = { [kExchange]?: Exchange };
type TrustMark = { [kTrusted]?: boolean };

const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;
/** Methods the gateway proxies; any other (TRACE, WebDAV, ...) matches no route. */
const PROXIED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

class BodyTooLargeError extends Error {
  constructor() {
    super('request body too large');
  }
}

class ClientClosedError extends Error {
  constructor() {
    super('client closed the connection');
  }
}

const TITLES: Record<number, string> = {
  400: 'bad request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not found',
  413: 'payload too large',
  429: 'too many requests',
  502: 'bad gateway',
  503: 'unavailable',
  504: 'gateway timeout',
};

const KIND_BY_STATUS: Record<number, string> = {
  400: 'invalid',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  502: 'unavailable',
  503: 'unavailable',
  504: 'unavailable',
};

/** Tells the client the id of the usage event its request produced (support and reconciliation). */
const EVENT_ID_HEADER = 'x-tollgate-event-id';
const WWW_AUTHENTICATE = 'Bearer realm="tollgate", error="invalid_token"';
const WWW_AUTHENTICATE_MISSING = 'Bearer realm="tollgate"';

export class Exchange {
  readonly startMs: number;
  readonly startPerf: number;
  /** The usage event's id (UUIDv7), also sent to the client as X-Tollgate-Event-Id. */
  readonly eventId: string;
  readonly method: string;
  readonly requestId: string;
  path = '';
  query = '';
  route: CompiledRoute | null = null;
  consumerId: string | null = null;
  keyId: string | null = null;
  sub: CompiledSubscription | null = null;
  plan: CompiledPlan | null = null;
  limitReq: LimitRequest | null = null;
  decision: LimitDecision | null = null;
  limiterUsed: Limiter | null = null;
  admitted = false;
  /** The request did not count: upstream error (by plan), body too large mid-stream. */
  notCounted = false;
  upstreamFailed = false;
  stripAuthorization = false;
  stripApiKey = false;
  hasBody = false;
  bodyLimit = 0;
  bodyTooLarge = false;
  bytesIn = 0;
  bytesOut = 0;
  status = 0;
  responseStarted = false;
  clientClosed = false;
  finalized = false;
  target: Target | null = null;
  attempts = 0;
  controller: Dispatcher.DispatchController | null = null;
  upstreamHeaders: string[] | null = null;
  upstreamPath = '';
  drainAttached = false;
  countingBody = false;
  /** The upstream's Content-Length (-1: chunked or none). */
  expectedBytes = -1;

  constructor(
    readonly p: Pipeline,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    incomingRequestId: string | null,
  ) {
    this.startMs = Date.now();
    this.startPerf = performance.now();
    this.eventId = uuidv7(this.startMs);
    // Without an acceptable X-Request-Id from the caller, the event id doubles as the request
    // id: unique per request already, and one UUID fewer per request.
    this.requestId = incomingRequestId ?? this.eventId;
    this.method = req.method ?? 'GET';
  }

  // ---- gateway-produced answers ----

  fail(
    status: number,
    code: string,
    detail: string,
    extraHeaders: string[] | null,
    extra: string | null,
  ): void {
    const res = this.res;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const kind =
      status === 429
        ? code === 'QUOTA_EXCEEDED'
          ? 'quota_exceeded'
          : 'rate_limited'
        : KIND_BY_STATUS[status];
    const body = `{"type":"https://tollgate.dev/problems/${kind ?? 'internal'}","title":"${TITLES[status] ?? 'error'}","status":${status},"detail":${JSON.stringify(detail)},"code":"${code}","requestId":${JSON.stringify(this.requestId)}${extra ?? ''}}`;
    const headers: string[] = [
      'content-type',
      'application/problem+json',
      'content-length',
      String(Buffer.byteLength(body)),
      'x-request-id',
      this.requestId,
      'cache-control',
      'no-store',
    ];
    let closing = false;
    if (extraHeaders !== null) {
      for (let i = 0; i < extraHeaders.length; i++) headers.push(extraHeaders[i]!);
      closing = extraHeaders.includes('connection');
    }
    // A refused request's unread body would otherwise be read and discarded by Node: close instead.
    if (!closing && this.hasBody && !this.countingBody) headers.push('connection', 'close');
    if (this.consumerId !== null && this.route !== null) headers.push(EVENT_ID_HEADER, this.eventId);
    if (this.sub !== null && this.plan !== null && this.decision !== null) {
      pushRateLimitHeaders(headers, this.sub, this.plan, this.decision);
    }
    this.status = status;
    this.responseStarted = true;
    res.writeHead(status, headers);
    const head = this.method === 'HEAD';
    if (!head) this.bytesOut = Buffer.byteLength(body);
    // The event is published before the last byte leaves: a client that saw the response
    // implies its event is already in the sink (even if the process is killed right after).
    this.p.finalize(this);
    if (head) res.end();
    else res.end(body);
  }

  unauthenticated(code: string, detail: string, missing: boolean): void {
    this.p.deps.metrics.unauthenticated.inc({ reason: code });
    this.fail(
      401,
      code,
      detail,
      ['www-authenticate', missing ? WWW_AUTHENTICATE_MISSING : WWW_AUTHENTICATE],
      null,
    );
  }

  // ---- undici DispatchHandler ----

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientClosed) controller.abort(new ClientClosedError());
    else if (this.bodyTooLarge) controller.abort(new BodyTooLargeError());
    else if (this.hasBody && !this.countingBody) {
      // Attached here, in the same tick as undici's own listener (attaching earlier would put
      // the stream in flowing mode and lose chunks before undici reads them).
      this.countingBody = true;
      const req = this.req as IncomingMessage & WithExchange;
      req[kExchange] = this;
      req.on('data', onRequestData);
    }
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return;
    const out: string[] = [];
    const conn = connectionTokens(headers.connection);
    for (const name in headers) {
      if (RESPONSE_DROP.has(name) || conn?.has(name)) continue;
      const v = headers[name];
      if (v === undefined) continue;
      if (typeof v === 'string') out.push(name, v);
      else for (let i = 0; i < v.length; i++) out.push(name, v[i]!);
    }
    out.push('x-request-id', this.requestId);
    if (this.consumerId !== null) out.push(EVENT_ID_HEADER, this.eventId);
    if (this.sub !== null && this.plan !== null && this.decision !== null) {
      pushRateLimitHeaders(out, this.sub, this.plan, this.decision);
    }
    try {
      this.res.writeHead(statusCode, out);
    } catch (err) {
      controller.abort(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.status = statusCode;
    this.responseStarted = true;
    if (statusCode >= 500) this.upstreamFailed = true;
    const cl = headers['content-length'];
    if (typeof cl === 'string') this.expectedBytes = Number(cl);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytesOut += chunk.length;
    // With a Content-Length the client has the whole response once the last body byte is
    // written, before onResponseEnd: publish the event first, so a client that saw the answer
    // implies the event is in the sink (even if the process dies right after).
    if (this.expectedBytes >= 0 && this.bytesOut >= this.expectedBytes) this.p.finalize(this);
    if (!this.res.write(chunk)) {
      controller.pause();
      if (!this.drainAttached) {
        this.drainAttached = true;
        this.res.on('drain', onResponseDrain);
      }
    }
  }

  onResponseEnd(): void {
    const t = this.target;
    if (t !== null) {
      if (this.status >= 500) t.onFailure(Date.now());
      else t.onSuccess();
    }
    // Published before the response completes (see fail()).
    this.p.finalize(this);
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const t = this.target;
    const now = Date.now();
    if (this.clientClosed || err instanceof ClientClosedError) {
      t?.onNeutral();
      return;
    }
    if (this.bodyTooLarge || err instanceof BodyTooLargeError) {
      t?.onNeutral();
      this.notCounted = true;
      if (!this.responseStarted)
        this.fail(
          413,
          'BODY_TOO_LARGE',
          "The request body exceeds this API's limit.",
          ['connection', 'close'],
          null,
        );
      else this.res.destroy();
      return;
    }
    const code = (err as { code?: string }).code ?? '';
    this.upstreamFailed = true;
    const m = this.p.deps.metrics;
    if (this.responseStarted) {
      // Upstream broke mid-body: the client gets a truncated response.
      t?.onFailure(now);
      m.upstreamErrors.inc({ kind: code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : 'reset' });
      this.res.destroy();
      return;
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      t?.onFailure(now);
      m.upstreamErrors.inc({ kind: 'timeout' });
      this.fail(504, 'UPSTREAM_TIMEOUT', 'The upstream did not answer in time.', null, null);
      return;
    }
    if (CONNECT_ERRORS.has(code)) {
      t?.onConnectionFailure(now);
      m.upstreamErrors.inc({ kind: 'connect' });
      if (!this.hasBody && this.attempts <= this.p.deps.options.retries && IDEMPOTENT.has(this.method)) {
        const next = this.route!.api.upstream.pick(now, t);
        if (next !== null) {
          m.upstreamRetries.inc();
          this.dispatchTo(next);
          return;
        }
      }
      this.fail(502, 'UPSTREAM_UNREACHABLE', 'The upstream could not be reached.', null, null);
      return;
    }
    t?.onFailure(now);
    m.upstreamErrors.inc({ kind: 'reset' });
    this.fail(502, 'UPSTREAM_ERROR', 'The upstream answered with an invalid response.', null, null);
  }

  dispatchTo(target: Target): void {
    this.target = target;
    this.attempts++;
    this.controller = null;
    const headers = this.upstreamHeaders!;
    headers[1] = this.route!.api.upstreamHost ?? target.host;
    target.onDispatch();
    const timeout = this.route!.timeoutMs;
    target.pool.dispatch(
      {
        path: target.basePath + this.upstreamPath,
        method: this.method,
        headers,
        body: this.hasBody ? this.req : null,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        blocking: true,
      },
      this,
    );
  }
}

function onResponseDrain(this: ServerResponse & WithExchange): void {
  this[kExchange]?.controller?.resume();
}

function onRequestData(this: IncomingMessage & WithExchange, chunk: Buffer): void {
  const ex = this[kExchange];
  if (ex === undefined) return;
  ex.bytesIn += chunk.length;
  if (ex.bytesIn > ex.bodyLimit && !ex.bodyTooLarge) {
    ex.bodyTooLarge = true;
    if (ex.controller !== null) ex.controller.abort(new BodyTooLargeError());
  }
}

function onResponseClose(this: ServerResponse & WithExchange): void {
  const ex = this[kExchange];
  if (ex === undefined) return;
  this[kExchange] = undefined;
  if (!this.writableFinished) {
    ex.clientClosed = true;
    if (ex.controller !== null && !ex.controller.aborted) ex.controller.abort(new ClientClosedError());
    if (!ex.responseStarted) ex.status = 499;
  }
  ex.p.finalize(ex);
}

function normalizeHost(host: string | undefined): string {
  if (host === undefined) return '';
  let h = host;
  if (h.charCodeAt(0) === 91 /* [ */) return h.toLowerCase();
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  return h.toLowerCase();
}

function dotCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 46) n++;
  return n;
}

interface RouteMetrics {
  byClass: ({ inc(): void } | undefined)[];
  latency: { observe(v: number): void };
}

export class Pipeline {
  private readonly routeMetrics = new WeakMap<CompiledRoute, RouteMetrics>();
  private readonly noRouteMetrics: RouteMetrics;
  private readonly decisions;
  private readonly billableEvents;
  private readonly nonBillableEvents;

  constructor(readonly deps: PipelineDeps) {
    const m = deps.metrics;
    this.noRouteMetrics = { byClass: [], latency: m.latency.labels('none') };
    this.decisions = {
      allowed: m.limiterDecisions.labels('allowed'),
      quota: m.limiterDecisions.labels('quota'),
      rate: m.limiterDecisions.labels('rate'),
      failOpen: m.limiterDecisions.labels('fail_open'),
      failClosed: m.limiterDecisions.labels('fail_closed'),
    };
    this.billableEvents = m.usageEvents.labels('true');
    this.nonBillableEvents = m.usageEvents.labels('false');
  }

  /**
   * Entry point (ProxyServer's request handler); from here on this pipeline owns `res`.
   * `requestId`: the caller's acceptable X-Request-Id, or null to use the event id.
   */
  handle(req: IncomingMessage, res: ServerResponse, requestId: string | null): void {
    const ex = new Exchange(this, req, res, requestId);
    (res as ServerResponse & WithExchange)[kExchange] = ex;
    res.on('close', onResponseClose);
    const pending = this.route(ex);
    if (pending !== undefined) pending.catch((err: unknown) => this.internalError(ex, err));
  }

  private internalError(ex: Exchange, err: unknown): void {
    this.deps.logger.error({ err, reqId: ex.requestId }, 'gateway pipeline error');
    ex.fail(500, 'INTERNAL', 'An unexpected error occurred.', null, null);
  }

  private route(ex: Exchange): Promise<void> | undefined {
    const snap = this.deps.controlPlane.current;
    if (snap === null) {
      ex.fail(503, 'NOT_READY', 'The gateway has no configuration yet.', ['retry-after', '1'], null);
      return undefined;
    }
    const url = ex.req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    ex.path = path;
    ex.query = q < 0 ? '' : url.slice(q);
    if (path.charCodeAt(0) !== 47 || DOT_SEGMENT.test(path) || path.includes('\\')) {
      ex.fail(400, 'BAD_PATH', 'The request path is not acceptable.', null, null);
      return undefined;
    }
    const route = PROXIED_METHODS.has(ex.method)
      ? snap.match(normalizeHost(ex.req.headers.host), path, ex.method)
      : null;
    if (route === null) {
      ex.fail(404, 'ROUTE_NOT_FOUND', 'No API route matches this request.', null, null);
      return undefined;
    }
    ex.route = route;
    const headers = ex.req.headers;
    const cl = headers['content-length'];
    ex.hasBody = (cl !== undefined && cl !== '0') || headers['transfer-encoding'] !== undefined;
    ex.bodyLimit = route.api.maxBodyBytes;

    // Credential: X-API-Key, else Authorization: Bearer (a JWT has two dots, an API key none).
    let token: string | null = null;
    let fromApiKeyHeader = false;
    const apiKeyHeader = headers['x-api-key'];
    if (typeof apiKeyHeader === 'string' && apiKeyHeader !== '') {
      token = apiKeyHeader.trim();
      fromApiKeyHeader = true;
    } else {
      const auth = headers.authorization;
      if (auth !== undefined && auth.length > 7 && /^bearer /i.test(auth)) token = auth.slice(7).trim();
    }
    if (token !== null) {
      if (fromApiKeyHeader) ex.stripApiKey = true;
      else ex.stripAuthorization = true;
    }

    if (route.public) return this.admitPublic(ex);
    if (token === null || token === '') {
      ex.unauthenticated('CREDENTIAL_MISSING', 'This route needs an API key or a bearer token.', true);
      return undefined;
    }
    const dots = dotCount(token);
    if (dots === 2 && !fromApiKeyHeader) {
      if (this.deps.jwt === null) {
        ex.unauthenticated('JWT_NOT_ACCEPTED', 'Bearer tokens are not accepted here.', false);
        return undefined;
      }
      return this.deps.jwt.verify(token).then((v) => this.afterJwt(ex, snap, v));
    }
    if (dots !== 0) {
      ex.unauthenticated('KEY_MALFORMED', 'The credential is malformed.', false);
      return undefined;
    }
    const verdict = this.deps.keys.resolve(token, ex.startMs);
    if (verdict instanceof Promise) return verdict.then((v) => this.afterKey(ex, snap, v));
    return this.afterKey(ex, snap, verdict);
  }

  private afterJwt(ex: Exchange, snap: Snapshot, v: JwtVerdict): Promise<void> | undefined {
    if (!v.ok) {
      ex.unauthenticated('TOKEN_INVALID', 'The bearer token is invalid.', false);
      return undefined;
    }
    ex.consumerId = v.consumerId;
    return this.authorize(ex, snap);
  }

  private afterKey(ex: Exchange, snap: Snapshot, v: KeyVerdict): Promise<void> | undefined {
    if (!v.ok) {
      if (v.code === 'KEY_LOOKUP_FAILED') {
        ex.fail(
          503,
          'KEY_LOOKUP_FAILED',
          'The credential could not be verified right now.',
          ['retry-after', '1'],
          null,
        );
      } else {
        ex.unauthenticated(v.code, 'The API key is invalid, revoked or expired.', false);
      }
      return undefined;
    }
    ex.consumerId = v.key.consumerId;
    ex.keyId = v.key.id;
    return this.authorize(ex, snap);
  }

  private authorize(ex: Exchange, snap: Snapshot): Promise<void> | undefined {
    const route = ex.route!;
    const consumer = snap.consumers.get(ex.consumerId!);
    if (consumer === undefined) {
      ex.fail(403, 'CONSUMER_UNKNOWN', 'The caller is not a known consumer.', null, null);
      return undefined;
    }
    if (consumer.suspended) {
      ex.fail(403, 'CONSUMER_SUSPENDED', 'This consumer is suspended.', null, null);
      return undefined;
    }
    const sub = activeSubscription(consumer, ex.startMs);
    if (sub === null) {
      ex.fail(403, 'NO_ACTIVE_SUBSCRIPTION', 'This consumer has no active subscription.', null, null);
      return undefined;
    }
    const plan = snap.plans.get(sub.planId)!;
    ex.sub = sub;
    ex.plan = plan;
    if (!plan.apiIds.has(route.api.id) && !plan.routeIds.has(route.id)) {
      ex.fail(403, 'NOT_ENTITLED', 'The plan does not include this API or route.', null, null);
      return undefined;
    }
    if (this.bodyRefused(ex)) return undefined;
    refreshPeriod(sub, plan, ex.startMs);
    const p = plan.plan;
    const req: LimitRequest = {
      subject: p.limitScope === 'key' && ex.keyId !== null ? `k:${ex.keyId}` : `c:${ex.consumerId}`,
      cost: route.cost,
      now: ex.startMs,
      quota: sub.quota,
      rate: p.rateLimitPerSecond === null ? null : { perSecond: p.rateLimitPerSecond, burst: p.burst ?? 1 },
    };
    ex.limitReq = req;
    return this.deps.limiter.check(req).then(
      (d) => {
        ex.limiterUsed = this.deps.limiter;
        this.afterDecision(ex, d);
      },
      (err: unknown) => this.limiterFailed(ex, err),
    );
  }

  private limiterFailed(ex: Exchange, err: unknown): Promise<void> {
    this.deps.metrics.redisErrors.inc();
    if (ex.plan!.plan.redisFailurePolicy === 'fail_closed') {
      this.decisions.failClosed.inc();
      ex.fail(
        503,
        'LIMITER_UNAVAILABLE',
        'Usage limits cannot be checked right now.',
        ['retry-after', String(this.deps.options.failClosedRetryAfterS)],
        null,
      );
      return Promise.resolve();
    }
    void err;
    return this.deps.fallbackLimiter.check(ex.limitReq!).then((d) => {
      ex.limiterUsed = this.deps.fallbackLimiter;
      if (d.allowed) {
        this.decisions.failOpen.inc();
        this.deps.metrics.failOpenAdmitted.inc();
      }
      this.afterDecision(ex, d);
    });
  }

  private afterDecision(ex: Exchange, d: LimitDecision): void {
    ex.decision = d;
    if (!d.allowed) {
      const byQuota = d.limitedBy === 'quota';
      (byQuota ? this.decisions.quota : this.decisions.rate).inc();
      const retryAfter = String(Math.max(1, Math.ceil((d.retryAfterMs ?? 1000) / 1000)));
      ex.fail(
        429,
        byQuota ? 'QUOTA_EXCEEDED' : 'RATE_LIMITED',
        byQuota
          ? 'The plan quota for this period is used up.'
          : 'Too many requests per second for this plan.',
        ['retry-after', retryAfter],
        `,"limit":"${byQuota ? 'quota' : 'rate'}","retryAfterSeconds":${retryAfter}`,
      );
      return;
    }
    if (ex.limiterUsed === this.deps.limiter) this.decisions.allowed.inc();
    ex.admitted = true;
    this.proxy(ex);
  }

  private admitPublic(ex: Exchange): undefined {
    if (this.bodyRefused(ex)) return undefined;
    ex.admitted = true;
    this.proxy(ex);
    return undefined;
  }

  /** 413 on a declared Content-Length above the API's limit. */
  private bodyRefused(ex: Exchange): boolean {
    const cl = ex.req.headers['content-length'];
    if (cl !== undefined && Number(cl) > ex.bodyLimit) {
      ex.fail(
        413,
        'BODY_TOO_LARGE',
        "The request body exceeds this API's limit.",
        ['connection', 'close'],
        null,
      );
      return true;
    }
    return false;
  }

  private proxy(ex: Exchange): void {
    if (ex.clientClosed) {
      // The client left while we authenticated or checked limits: nothing was served, so
      // whatever the limiter counted goes back (its event already went out as not billable).
      const lr = ex.limitReq;
      if (ex.limiterUsed !== null && lr !== null && lr.cost > 0 && lr.quota !== null) {
        ex.limiterUsed.refund(lr).catch(ignore);
      }
      return;
    }
    const route = ex.route!;
    const target = route.api.upstream.pick(Date.now(), null);
    if (target === null) {
      ex.upstreamFailed = true;
      this.deps.metrics.upstreamErrors.inc({ kind: 'no_target' });
      ex.fail(503, 'NO_HEALTHY_UPSTREAM', 'No healthy upstream is available.', ['retry-after', '1'], null);
      return;
    }
    const api = route.api;
    const rest = api.stripBasePath ? ex.path.slice(api.basePath.length) : ex.path;
    ex.upstreamPath = (rest === '' || rest.charCodeAt(0) !== 47 ? `/${rest}` : rest) + ex.query;
    ex.upstreamHeaders = this.upstreamHeaders(ex);
    ex.dispatchTo(target);
  }

  /** Header hygiene for the upstream request; slot [1] is the Host, set per target. */
  private upstreamHeaders(ex: Exchange): string[] {
    const req = ex.req;
    const raw = req.rawHeaders;
    const out: string[] = ['host', ''];
    const conn = connectionTokens(req.headers.connection);
    const o = this.deps.options;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      const lower = name.toLowerCase();
      if (REQUEST_DROP.has(lower) || conn?.has(lower)) continue;
      if (lower === 'authorization' && ex.stripAuthorization) continue;
      if (lower === 'x-api-key' && ex.stripApiKey) continue;
      if (lower === o.consumerHeader || lower === o.planHeader) continue;
      out.push(name, raw[i + 1]!);
    }
    const socket = req.socket as typeof req.socket & TrustMark;
    let trusted = socket[kTrusted];
    if (trusted === undefined) {
      trusted = isTrustedPeer(o.trustedProxies, socket.remoteAddress);
      socket[kTrusted] = trusted;
    }
    const peer = socket.remoteAddress ?? '';
    const h = req.headers;
    const xff = h['x-forwarded-for'];
    const xfp = h['x-forwarded-proto'];
    const xfh = h['x-forwarded-host'];
    out.push(
      'x-forwarded-for',
      trusted && typeof xff === 'string' && xff !== '' ? `${xff}, ${peer}` : peer,
      'x-forwarded-proto',
      trusted && typeof xfp === 'string' && xfp !== ''
        ? xfp
        : (socket as { encrypted?: boolean }).encrypted
          ? 'https'
          : 'http',
      'x-forwarded-host',
      trusted && typeof xfh === 'string' && xfh !== '' ? xfh : (h.host ?? ''),
      'x-request-id',
      ex.requestId,
    );
    const incoming = h.traceparent;
    const [traceparent, propagated] = nextTraceparent(typeof incoming === 'string' ? incoming : undefined);
    out.push('traceparent', traceparent);
    if (propagated && typeof h.tracestate === 'string') out.push('tracestate', h.tracestate);
    if (ex.consumerId !== null && o.consumerHeader !== '') out.push(o.consumerHeader, ex.consumerId);
    if (ex.plan !== null && o.planHeader !== '') out.push(o.planHeader, ex.plan.plan.slug);
    return out;
  }

  /** After the response is done (or the client went away): refund, event, metrics, access log. */
  finalize(ex: Exchange): void {
    if (ex.finalized) return;
    ex.finalized = true;
    const d = this.deps;
    const latencyMs = Math.round((performance.now() - ex.startPerf) * 1000) / 1000;
    const route = ex.route;
    const plan = ex.plan;
    let billable = false;
    if (ex.admitted && plan !== null && ex.limitReq !== null) {
      const upstreamError = ex.upstreamFailed || ex.status >= 500;
      const counts = !ex.notCounted && (!upstreamError || plan.plan.countUpstreamErrors);
      billable = counts;
      if (!counts && ex.limiterUsed !== null && ex.limitReq.cost > 0 && ex.limitReq.quota !== null) {
        ex.limiterUsed.refund(ex.limitReq).catch(ignore);
      }
    }
    const status = ex.status === 0 ? 499 : ex.status;
    if (route !== null && ex.consumerId !== null) {
      const event: UsageEventV1 = {
        specversion: '1.0',
        type: USAGE_EVENT_TYPE_V1,
        source: d.options.instanceId,
        id: ex.eventId,
        time: new Date(ex.startMs).toISOString(),
        subject: ex.consumerId,
        data: {
          consumerId: ex.consumerId,
          keyId: ex.keyId,
          planId: plan?.plan.id ?? null,
          subscriptionId: ex.sub?.id ?? null,
          apiId: route.api.id,
          routeId: route.id,
          method: ex.method,
          status,
          bytesIn: ex.bytesIn,
          bytesOut: ex.bytesOut,
          latencyMs,
          units: route.cost,
          billable,
        },
      };
      try {
        d.sink.publish(event);
        (billable ? this.billableEvents : this.nonBillableEvents).inc();
      } catch (err) {
        d.metrics.sinkErrors.inc();
        d.logger.error({ err }, 'usage sink refused an event');
      }
    } else {
      d.metrics.anonymous.inc();
    }
    const rm = this.metricsFor(route);
    const cls = (status / 100) | 0;
    let counter = rm.byClass[cls];
    if (counter === undefined) {
      counter = d.metrics.requests.labels(route?.label ?? 'none', `${cls}xx`);
      rm.byClass[cls] = counter;
    }
    counter.inc();
    rm.latency.observe(latencyMs / 1000);
    d.accessLog.record(
      ex.requestId,
      ex.method,
      ex.path,
      route?.label ?? null,
      status,
      latencyMs,
      ex.bytesIn,
      ex.bytesOut,
      ex.consumerId,
      ex.target?.origin ?? null,
    );
  }

  private metricsFor(route: CompiledRoute | null): RouteMetrics {
    if (route === null) return this.noRouteMetrics;
    let rm = this.routeMetrics.get(route);
    if (rm === undefined) {
      rm = { byClass: [], latency: this.deps.metrics.latency.labels(route.label) };
      this.routeMetrics.set(route, rm);
    }
    return rm;
  }
}

function ignore(): void {}
