import { performance } from 'node:perf_hooks';
import type { UsageEventSink } from '@tollgate/core';
import type { Logger } from 'pino';
import type { AccessLog } from './access-log.ts';
import type { CompiledRoute } from './control-plane/compile-snapshot.ts';
import type { Admission } from './enforcement/admission.ts';
import type { BodyRateGuard } from './enforcement/body-rate.ts';
import type { LoadShedder } from './enforcement/load-shed.ts';
import { pushRateLimitHeaders } from './enforcement/rate-limit-headers.ts';
import type { CounterCell, HistogramCell } from './metric-cells.ts';
import type { GatewayMetrics } from './metrics.ts';
import { type Problem, RETRY_AFTER_FROM_RECORD } from './problem.ts';
import type { RequestRecord } from './request-record.ts';
import { usageEventOf } from './usage/usage-event.ts';

/** Tells the client the id of the usage event its request produced (support and reconciliation). */
export const EVENT_ID_HEADER = 'x-tollgate-event-id';

export interface FinishDeps {
  instanceId: string;
  sink: UsageEventSink;
  metrics: GatewayMetrics;
  accessLog: AccessLog;
  logger: Logger;
  admission: Admission;
  bodyRate: BodyRateGuard;
  shedder: LoadShedder;
}

interface RouteMetrics {
  byClass: (CounterCell | undefined)[];
  latency: HistogramCell;
}

/** At most one log line per minute for failed refunds (each is counted). */
const REFUND_LOG_INTERVAL_MS = 60_000;

/**
 * The one place a request ends: `answer` writes a gateway-produced answer (problem+json), and
 * `finish`, called exactly once per request (before the last byte of any answer leaves, or when
 * the client goes away), releases what the request holds, refunds what did not count, publishes
 * its usage event and writes its metrics and access-log line.
 */
export class RequestFinisher {
  private readonly routeMetrics = new WeakMap<CompiledRoute, RouteMetrics>();
  private readonly noRouteMetrics: RouteMetrics;
  private readonly billableEvents: CounterCell;
  private readonly nonBillableEvents: CounterCell;
  private readonly anonymous: CounterCell;
  private refundLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: FinishDeps) {
    const m = deps.metrics;
    this.noRouteMetrics = { byClass: [], latency: m.latency.labels('none') };
    this.billableEvents = m.usageEvents.labels('true');
    this.nonBillableEvents = m.usageEvents.labels('false');
    this.anonymous = m.anonymous.labels();
  }

  /** Answers `problem` (unless the response is under way: then the connection is cut). */
  answer(r: RequestRecord, problem: Problem): void {
    const res = r.res;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const retryAfter = problem.retryAfterS === RETRY_AFTER_FROM_RECORD ? r.retryAfterS : problem.retryAfterS;
    // Request ids are plain (proxy/trace.ts acceptableRequestId, or a UUID): no escaping needed.
    let body = `${problem.bodyHead}"${r.requestId}"`;
    if (problem.limit !== null) body += `,"limit":"${problem.limit}","retryAfterSeconds":${retryAfter}`;
    if (problem.reason !== null) body += `,"reason":"${problem.reason}"`;
    body += '}';
    const length = Buffer.byteLength(body);
    const headers: string[] = [
      'content-type',
      'application/problem+json',
      'content-length',
      String(length),
      'x-request-id',
      r.requestId,
      'cache-control',
      'no-store',
    ];
    if (problem.wwwAuthenticate !== null) headers.push('www-authenticate', problem.wwwAuthenticate);
    if (retryAfter > 0) headers.push('retry-after', String(retryAfter));
    // A refused request's unread body would otherwise be read and discarded by Node: close instead.
    if (problem.closeConnection || (r.hasBody && !(r.upstream?.countingBody ?? false))) {
      headers.push('connection', 'close');
    }
    if (r.consumerId !== null && r.route !== null) headers.push(EVENT_ID_HEADER, r.eventId);
    if (r.sub !== null && r.plan !== null && r.decision !== null) {
      pushRateLimitHeaders(headers, r.sub, r.plan, r.decision);
    }
    r.status = problem.status;
    r.responseStarted = true;
    res.writeHead(problem.status, headers);
    const head = r.method === 'HEAD';
    if (!head) r.bytesOut = length;
    // The event is published before the last byte leaves: a client that saw the response
    // implies its event is already in the sink (even if the process is killed right after).
    this.finish(r);
    if (head) res.end();
    else res.end(body);
  }

  /** Releases, refunds, usage event, metrics, access log: once per request. */
  finish(r: RequestRecord): void {
    if (r.finished) return;
    r.finished = true;
    const d = this.deps;
    d.admission.release(r);
    if (r.inFlight) {
      r.inFlight = false;
      d.shedder.leave();
    }
    const call = r.upstream;
    if (call !== null) d.bodyRate.unwatch(call);
    const latencyMs = Math.round((performance.now() - r.startPerf) * 1000) / 1000;
    const route = r.route;
    const plan = r.plan;
    let billable = false;
    if (r.admitted && plan !== null && r.limit !== null) {
      const upstreamError = r.upstreamFailed || r.status >= 500;
      billable = !r.notCounted && (!upstreamError || plan.plan.countUpstreamErrors);
      if (!billable) this.refund(r);
    }
    const status = r.status === 0 ? 499 : r.status;
    if (route !== null && r.consumerId !== null) {
      try {
        d.sink.publish(usageEventOf(r, d.instanceId, status, latencyMs, billable));
        (billable ? this.billableEvents : this.nonBillableEvents).inc();
      } catch (err) {
        d.metrics.sinkErrors.inc();
        d.logger.error({ err }, 'usage sink refused an event');
      }
    } else {
      this.anonymous.inc();
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
      r.requestId,
      r.method,
      r.path,
      route?.label ?? null,
      status,
      latencyMs,
      r.bytesIn,
      r.bytesOut,
      r.consumerId,
      call?.target?.origin ?? null,
    );
  }

  /**
   * Gives back what the limiter counted for a request that will not be served: the client left
   * while the limiter decided, after the request was finished (nothing was billed).
   */
  refundUnserved(r: RequestRecord): void {
    if (r.limiterUsed !== null) this.refund(r);
  }

  private refund(r: RequestRecord): void {
    const limiter = r.limiterUsed;
    const req = r.limit;
    if (limiter === null || req === null || req.cost <= 0 || req.quota === null) return;
    limiter.refund(req).catch(this.refundFailed);
  }

  private readonly refundFailed = (err: unknown): void => {
    this.deps.metrics.refundErrors.inc();
    const now = Date.now();
    if (now - this.refundLoggedAt < REFUND_LOG_INTERVAL_MS) return;
    this.refundLoggedAt = now;
    this.deps.logger.warn({ err }, 'quota refund failed (counted in tollgate_gateway_refund_errors_total)');
  };

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
