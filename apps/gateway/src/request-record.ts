import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type LimitDecision, type Limiter, type LimitRequest, uuidv7 } from '@tollgate/core';
import type {
  CompiledPlan,
  CompiledRoute,
  CompiledSubscription,
  Snapshot,
} from './control-plane/compile-snapshot.ts';
import type { AdmissionHold, TargetLoad } from './enforcement/admission.ts';
import type { UpstreamCall } from './proxy/upstream-call.ts';

/**
 * Everything the gateway knows about one request: plain fields, no behaviour. The steps of
 * handle-request.ts (proxy/match-route, identity/, enforcement/, proxy/forward-request) each
 * read and write it and return; finish-request.ts is the one place that answers from it and
 * turns it into the usage event, the metrics and the access-log line. One object per request,
 * its fields all initialized here so every record has one shape.
 */
export class RequestRecord implements AdmissionHold {
  readonly startMs: number;
  readonly startPerf: number;
  /** The usage event's id (UUIDv7), also sent to the client as X-Tollgate-Event-Id. */
  readonly eventId: string;
  readonly requestId: string;
  readonly method: string;
  /** The configuration the request was matched against (kept across the async steps). */
  snapshot: Snapshot | null = null;

  // ---- route (proxy/match-route.ts)
  /** The request path as sent (access log). */
  path = '';
  /** Its canonical form: what is matched, priced and forwarded. */
  canonicalPath = '';
  query = '';
  route: CompiledRoute | null = null;
  hasBody = false;
  bodyLimit = 0;

  // ---- identity (identity/identify-caller.ts)
  stripAuthorization = false;
  stripApiKey = false;
  consumerId: string | null = null;
  keyId: string | null = null;
  /** The per-address key (read lazily: only per-address bounds need it). */
  clientAddress: string | null = null;

  // ---- enforcement (enforcement/)
  sub: CompiledSubscription | null = null;
  plan: CompiledPlan | null = null;
  limit: LimitRequest | null = null;
  decision: LimitDecision | null = null;
  /** The limiter that decided (the fallback one under fail_open): refunds go to it. */
  limiterUsed: Limiter | null = null;
  /** Admitted to the upstream (by the limiter, or as a public request). */
  admitted = false;
  /** Counted in the load shedder's in-flight total. */
  inFlight = false;
  /** Retry-After of a refusal whose value depends on the decision. */
  retryAfterS = 0;
  // AdmissionHold: what this request holds of the admission bounds (released when finished).
  heldAddress: string | null = null;
  heldConsumer: string | null = null;
  heldTarget: TargetLoad | null = null;
  heldTargetConsumer: string | null = null;

  // ---- proxy (proxy/forward-request.ts, proxy/upstream-call.ts)
  upstream: UpstreamCall | null = null;
  bytesIn = 0;
  bodyTooLarge = false;
  /** The request did not count: upstream error (by plan), refused after admission, body cut. */
  notCounted = false;
  upstreamFailed = false;

  // ---- answer (finish-request.ts)
  status = 0;
  bytesOut = 0;
  responseStarted = false;
  clientClosed = false;
  /** Usage event, metrics and access log are done (exactly once). */
  finished = false;

  constructor(
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
}
