import type { Admission } from '../enforcement/admission.ts';
import type { CounterCell } from '../metric-cells.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { defineProblem, type Problem } from '../problem.ts';
import type { RequestRecord } from '../request-record.ts';
import { UpstreamCall, type UpstreamContext } from './upstream-call.ts';
import { type HeaderOptions, upstreamRequestHeaders } from './upstream-headers.ts';
import { upstreamPathFor } from './upstream-path.ts';

const NO_HEALTHY_UPSTREAM = defineProblem({
  status: 503,
  code: 'NO_HEALTHY_UPSTREAM',
  detail: 'No healthy upstream is available.',
  retryAfterS: 1,
});
const UPSTREAM_BUSY = defineProblem({
  status: 503,
  code: 'UPSTREAM_BUSY',
  detail: "Anonymous traffic holds its share of this API's upstream connections.",
  retryAfterS: 1,
});
const UPSTREAM_SHARE_EXCEEDED = defineProblem({
  status: 429,
  code: 'UPSTREAM_SHARE_EXCEEDED',
  detail: "This consumer holds its share of this API's upstream connections.",
  limit: 'concurrency',
  retryAfterS: 1,
});

export interface ForwardDeps extends UpstreamContext {
  headers: HeaderOptions;
}

/**
 * Proxy: a target of the route's API (load balancing, health, breaker), a slot of its pool
 * within the caller's fair share, the upstream path and headers, then the dispatch. Null: the
 * request is on its way (its UpstreamCall answers from here on); else the refusal (a request
 * the limiter admitted is not counted: the finisher refunds it).
 */
export class RequestForwarder {
  private readonly admission: Admission;
  private readonly refusedShare: CounterCell;
  private readonly refusedBusy: CounterCell;

  constructor(
    private readonly deps: ForwardDeps,
    metrics: GatewayMetrics,
  ) {
    this.admission = deps.admission;
    this.refusedShare = metrics.admissionRefused.labels('upstream_share');
    this.refusedBusy = metrics.admissionRefused.labels('upstream_busy');
  }

  forward(r: RequestRecord): Problem | null {
    const route = r.route!;
    const target = route.api.upstream.pick(Date.now(), null);
    if (target === null) {
      r.upstreamFailed = true;
      this.deps.metrics.upstreamErrors.inc({ kind: 'no_target' });
      return NO_HEALTHY_UPSTREAM;
    }
    if (!this.admission.enterTarget(r, target, r.consumerId, false)) {
      r.notCounted = true;
      if (r.consumerId === null) {
        this.refusedBusy.inc();
        return UPSTREAM_BUSY;
      }
      this.refusedShare.inc();
      return UPSTREAM_SHARE_EXCEEDED;
    }
    const call = new UpstreamCall(
      r,
      this.deps,
      upstreamRequestHeaders(r, this.deps.headers),
      upstreamPathFor(route, r.canonicalPath, r.query),
    );
    r.upstream = call;
    call.dispatchTo(target);
    return null;
  }
}
