import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Admission } from '../enforcement/admission.ts';
import { BODY_TOO_LARGE } from '../enforcement/admit-request.ts';
import type { BodyRateGuard, WatchedBody } from '../enforcement/body-rate.ts';
import type { RequestFinisher } from '../finish-request.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { defineProblem } from '../problem.ts';
import type { RequestRecord } from '../request-record.ts';
import { UPSTREAM_FORBIDDEN } from './guarded-connect.ts';
import type { Target } from './upstream.ts';
import { clientResponseHeaders } from './upstream-headers.ts';

/** What every upstream call of one gateway shares (built once by the request handler). */
export interface UpstreamContext {
  finisher: RequestFinisher;
  metrics: GatewayMetrics;
  admission: Admission;
  bodyRate: BodyRateGuard;
  /** Retries of an idempotent body-less request on another target after a connection error. */
  retries: number;
}

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

const BODY_TOO_SLOW = defineProblem({
  status: 408,
  code: 'BODY_TOO_SLOW',
  detail: 'The request body arrived below the minimum rate.',
  closeConnection: true,
});
const UPSTREAM_FORBIDDEN_PROBLEM = defineProblem({
  status: 502,
  code: 'UPSTREAM_FORBIDDEN',
  detail: 'The upstream target is an address this gateway may not connect to.',
});
const UPSTREAM_TIMEOUT = defineProblem({
  status: 504,
  code: 'UPSTREAM_TIMEOUT',
  detail: 'The upstream did not answer in time.',
});
const UPSTREAM_UNREACHABLE = defineProblem({
  status: 502,
  code: 'UPSTREAM_UNREACHABLE',
  detail: 'The upstream could not be reached.',
});
const UPSTREAM_ERROR = defineProblem({
  status: 502,
  code: 'UPSTREAM_ERROR',
  detail: 'The upstream answered with an invalid response.',
});

class BodyTooLargeError extends Error {
  constructor() {
    super('request body too large');
  }
}

export class ClientClosedError extends Error {
  constructor() {
    super('client closed the connection');
  }
}

class BodyTooSlowError extends Error {
  constructor() {
    super('request body below the minimum rate');
  }
}

const kCall = Symbol('tollgate.upstreamCall');
type WithCall = { [kCall]?: UpstreamCall };

/**
 * One admitted request's exchange with its upstream, as undici's dispatch handler: the request
 * body streamed up (counted against the API's limit and the minimum body rate), the response
 * streamed down with the client's headers, and every way it can fail mapped to an answer.
 * It writes what happened to the request record and leaves the ending to the finisher: the
 * usage event is published before the last byte of the response leaves.
 */
export class UpstreamCall implements Dispatcher.DispatchHandler, WatchedBody {
  controller: Dispatcher.DispatchController | null = null;
  target: Target | null = null;
  attempts = 0;
  /** The request body is being read and forwarded (and counted). */
  countingBody = false;
  drainAttached = false;
  /** The upstream's Content-Length (-1: chunked or none). */
  expectedBytes = -1;
  bodyTooSlow = false;
  // WatchedBody: the minimum body rate's bookkeeping.
  bodyWatchFrom = 0;
  bodyWatchBytes = 0;
  bodyWatchPrev: WatchedBody | null = null;
  bodyWatchNext: WatchedBody | null = null;
  bodyWatched = false;

  constructor(
    readonly record: RequestRecord,
    private readonly ctx: UpstreamContext,
    /** Upstream request headers; slot [1] (Host) is set per target. */
    private readonly headers: string[],
    private readonly path: string,
  ) {}

  // ---- WatchedBody

  get bytesIn(): number {
    return this.record.bytesIn;
  }

  bodyDone(): boolean {
    return this.record.req.complete;
  }

  bodyPaused(): boolean {
    return this.record.req.isPaused();
  }

  cutSlowBody(): void {
    if (this.bodyTooSlow || this.record.finished) return;
    this.bodyTooSlow = true;
    this.ctx.metrics.slowBodies.inc();
    const c = this.controller;
    if (c !== null && !c.aborted) c.abort(new BodyTooSlowError());
  }

  /** The client went away: abort the upstream request. */
  clientClosed(): void {
    const c = this.controller;
    if (c !== null && !c.aborted) c.abort(new ClientClosedError());
  }

  dispatchTo(target: Target): void {
    const r = this.record;
    const route = r.route!;
    this.target = target;
    this.attempts++;
    this.controller = null;
    const headers = this.headers;
    headers[1] = route.api.upstreamHost ?? target.host;
    target.onDispatch();
    const timeout = route.timeoutMs;
    target.pool.dispatch(
      {
        path: target.basePath + this.path,
        method: r.method,
        headers,
        body: r.hasBody ? r.req : null,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        blocking: true,
      },
      this,
    );
  }

  // ---- undici DispatchHandler

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    const r = this.record;
    if (r.clientClosed) controller.abort(new ClientClosedError());
    else if (r.bodyTooLarge) controller.abort(new BodyTooLargeError());
    else if (r.hasBody && !this.countingBody) {
      // Attached here, in the same tick as undici's own listener (attaching earlier would put
      // the stream in flowing mode and lose chunks before undici reads them).
      this.countingBody = true;
      const req = r.req as IncomingMessage & WithCall;
      req[kCall] = this;
      req.on('data', onRequestData);
      if (!req.complete) this.ctx.bodyRate.watch(this);
    }
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return;
    const r = this.record;
    try {
      r.res.writeHead(statusCode, clientResponseHeaders(r, headers));
    } catch (err) {
      controller.abort(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    r.status = statusCode;
    r.responseStarted = true;
    if (statusCode >= 500) r.upstreamFailed = true;
    const cl = headers['content-length'];
    if (typeof cl === 'string') this.expectedBytes = Number(cl);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const r = this.record;
    r.bytesOut += chunk.length;
    // With a Content-Length the client has the whole response once the last body byte is
    // written, before onResponseEnd: finish first, so a client that saw the answer implies
    // the event is in the sink (even if the process dies right after).
    const res = r.res;
    if (this.expectedBytes >= 0 && r.bytesOut >= this.expectedBytes) {
      this.ctx.finisher.finish(r);
      // The last chunk ends the response at once: one write with the end, no cork-and-uncork
      // tick that a write() then end() costs (onResponseEnd's end() is then a no-op).
      res.end(chunk);
      return;
    }
    if (!res.write(chunk)) {
      controller.pause();
      if (!this.drainAttached) {
        this.drainAttached = true;
        (res as ServerResponse & WithCall)[kCall] = this;
        res.on('drain', onResponseDrain);
      }
    }
  }

  onResponseEnd(): void {
    const t = this.target;
    const r = this.record;
    if (t !== null) {
      if (r.status >= 500) t.onFailure(Date.now());
      else t.onSuccess();
    }
    // Finished before the response completes (see RequestFinisher.answer).
    this.ctx.finisher.finish(r);
    r.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const t = this.target;
    const r = this.record;
    const finisher = this.ctx.finisher;
    const now = Date.now();
    if (r.clientClosed || err instanceof ClientClosedError) {
      t?.onNeutral();
      return;
    }
    // A body over the limit or below the minimum rate: the upstream request is aborted. If the
    // upstream had not started answering, the client gets 413/408 and the request does not
    // count. If it had, the upstream served the request (the client holds its status and part of
    // its body): it counts like any answered request and the rest is cut off. (Refunding it
    // would let a client take a streamed answer for free by growing its body past the limit.)
    if (r.bodyTooLarge || err instanceof BodyTooLargeError) {
      t?.onNeutral();
      if (!r.responseStarted) {
        r.notCounted = true;
        finisher.answer(r, BODY_TOO_LARGE);
      } else r.res.destroy();
      return;
    }
    if (this.bodyTooSlow || err instanceof BodyTooSlowError) {
      t?.onNeutral();
      if (!r.responseStarted) {
        r.notCounted = true;
        finisher.answer(r, BODY_TOO_SLOW);
      } else r.res.destroy();
      return;
    }
    const code = (err as { code?: string }).code ?? '';
    r.upstreamFailed = true;
    const m = this.ctx.metrics;
    if (r.responseStarted) {
      // Upstream broke mid-body: the client gets a truncated response.
      t?.onFailure(now);
      m.upstreamErrors.inc({ kind: code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : 'reset' });
      r.res.destroy();
      return;
    }
    if (code === UPSTREAM_FORBIDDEN) {
      // The egress policy refused the target's address: nothing was sent, nothing counts.
      t?.onNeutral();
      r.notCounted = true;
      m.upstreamErrors.inc({ kind: 'forbidden' });
      finisher.answer(r, UPSTREAM_FORBIDDEN_PROBLEM);
      return;
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      t?.onFailure(now);
      m.upstreamErrors.inc({ kind: 'timeout' });
      finisher.answer(r, UPSTREAM_TIMEOUT);
      return;
    }
    if (CONNECT_ERRORS.has(code)) {
      t?.onConnectionFailure(now);
      m.upstreamErrors.inc({ kind: 'connect' });
      if (!r.hasBody && this.attempts <= this.ctx.retries && IDEMPOTENT.has(r.method)) {
        const next = r.route!.api.upstream.pick(now, t);
        if (next !== null) {
          m.upstreamRetries.inc();
          // The admitted request moves its pool slot to the other target.
          this.ctx.admission.enterTarget(r, next, r.consumerId, true);
          this.dispatchTo(next);
          return;
        }
      }
      finisher.answer(r, UPSTREAM_UNREACHABLE);
      return;
    }
    t?.onFailure(now);
    m.upstreamErrors.inc({ kind: 'reset' });
    finisher.answer(r, UPSTREAM_ERROR);
  }
}

function onResponseDrain(this: ServerResponse & WithCall): void {
  this[kCall]?.controller?.resume();
}

function onRequestData(this: IncomingMessage & WithCall, chunk: Buffer): void {
  const call = this[kCall];
  if (call === undefined) return;
  const r = call.record;
  r.bytesIn += chunk.length;
  if (r.bytesIn > r.bodyLimit && !r.bodyTooLarge) {
    r.bodyTooLarge = true;
    if (call.controller !== null) call.controller.abort(new BodyTooLargeError());
  }
}
