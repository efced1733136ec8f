import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TrustedProxies } from '@tollgate/config';
import type { Limiter, UsageEventSink } from '@tollgate/core';
import type { Logger } from 'pino';
import type { AccessLog } from './access-log.ts';
import type { Snapshot } from './control-plane/compile-snapshot.ts';
import { Admission, type AdmissionOptions } from './enforcement/admission.ts';
import { registerAdmissionMetrics } from './enforcement/admission-metrics.ts';
import { RequestAdmission } from './enforcement/admit-request.ts';
import { authorizePlan } from './enforcement/authorize-plan.ts';
import { BodyRateGuard, type BodyRateOptions } from './enforcement/body-rate.ts';
import { LimitCheck } from './enforcement/check-limits.ts';
import { LoadShedder, type LoadShedOptions } from './enforcement/load-shed.ts';
import { RequestFinisher } from './finish-request.ts';
import { CallerIdentifier } from './identity/identify-caller.ts';
import type { ApiKeyResolver } from './identity/resolve-api-key.ts';
import type { JwtVerifier } from './identity/verify-jwt.ts';
import type { GatewayMetrics } from './metrics.ts';
import { INTERNAL_ERROR, type Problem } from './problem.ts';
import { RequestForwarder } from './proxy/forward-request.ts';
import { matchRoute, NOT_READY } from './proxy/match-route.ts';
import { RequestRecord } from './request-record.ts';

/**
 * The data-plane path of one request, as a sequence of steps over one RequestRecord:
 *
 *   load shedding (enforcement/load-shed) → route (proxy/match-route) → identity
 *   (identity/identify-caller) → subscription and entitlement (enforcement/authorize-plan) →
 *   body limit and admission (enforcement/admit-request) → limits (enforcement/check-limits) →
 *   proxy (proxy/forward-request, then proxy/upstream-call streams both ways)
 *
 * Public routes skip identity, entitlement and limits; admission counts them per address.
 * Each step reads and writes the record and returns null (go on), a Problem (the refusal), or,
 * for the two that may wait (a key lookup or JWT, a limiter round trip), a promise of either:
 * a synchronous answer continues in the same call, with no promise or closure. Every answer
 * and every ending goes through the RequestFinisher (finish-request.ts): the one place that
 * writes gateway answers and the usage event, metrics and access-log line, once per request.
 */

export interface HandlerOptions {
  instanceId: string;
  trustedProxies: TrustedProxies;
  /** Lowercased; '' disables. */
  consumerHeader: string;
  planHeader: string;
  retries: number;
  failClosedRetryAfterS: number;
  admission: AdmissionOptions;
  bodyRate: BodyRateOptions;
  loadShed: LoadShedOptions;
}

export interface HandlerDeps {
  controlPlane: { readonly current: Snapshot | null };
  keys: ApiKeyResolver;
  jwt: JwtVerifier | null;
  limiter: Limiter;
  /** Per-instance limiter used when Redis fails and the plan fails open. */
  fallbackLimiter: Limiter;
  sink: UsageEventSink;
  metrics: GatewayMetrics;
  accessLog: AccessLog;
  /** Errors of the request path itself (the access log has one line per request). */
  logger: Logger;
  options: HandlerOptions;
}

const kRecord = Symbol('tollgate.request');
type WithRecord = { [kRecord]?: RequestRecord };

export class RequestHandler {
  readonly admission: Admission;
  readonly bodyRate: BodyRateGuard;
  readonly shedder: LoadShedder;
  private readonly finisher: RequestFinisher;
  private readonly identifier: CallerIdentifier;
  private readonly requestAdmission: RequestAdmission;
  private readonly limits: LimitCheck;
  private readonly forwarder: RequestForwarder;
  /** The response's 'close' listener (one function for every request; the record is on `res`). */
  private readonly onClose: (this: ServerResponse & WithRecord) => void;

  constructor(private readonly deps: HandlerDeps) {
    const m = deps.metrics;
    const o = deps.options;
    this.admission = new Admission(o.admission);
    this.bodyRate = new BodyRateGuard(o.bodyRate);
    this.shedder = new LoadShedder(o.loadShed, m, this.bodyRate);
    registerAdmissionMetrics(m, this.admission, deps.keys.gate, this.shedder);
    this.finisher = new RequestFinisher({
      instanceId: o.instanceId,
      sink: deps.sink,
      metrics: m,
      accessLog: deps.accessLog,
      logger: deps.logger,
      admission: this.admission,
      bodyRate: this.bodyRate,
      shedder: this.shedder,
    });
    this.identifier = new CallerIdentifier({
      keys: deps.keys,
      jwt: deps.jwt,
      trustedProxies: o.trustedProxies,
      unauthenticated: m.unauthenticated,
    });
    this.requestAdmission = new RequestAdmission(this.admission, m, this.identifier.addressOf);
    this.limits = new LimitCheck({
      limiter: deps.limiter,
      fallbackLimiter: deps.fallbackLimiter,
      metrics: m,
      logger: deps.logger,
      failClosedRetryAfterS: o.failClosedRetryAfterS,
    });
    this.forwarder = new RequestForwarder(
      {
        finisher: this.finisher,
        metrics: m,
        admission: this.admission,
        bodyRate: this.bodyRate,
        retries: o.retries,
        headers: {
          trustedProxies: o.trustedProxies,
          consumerHeader: o.consumerHeader,
          planHeader: o.planHeader,
        },
      },
      m,
    );
    const finisher = this.finisher;
    this.onClose = function onResponseClose(this: ServerResponse & WithRecord): void {
      const r = this[kRecord];
      if (r === undefined) return;
      this[kRecord] = undefined;
      if (!this.writableFinished) {
        r.clientClosed = true;
        r.upstream?.clientClosed();
        if (!r.responseStarted) r.status = 499;
      }
      finisher.finish(r);
    };
  }

  /**
   * Entry point (ProxyServer's request handler); from here on this handler owns `res`.
   * `requestId`: the caller's acceptable X-Request-Id, or null to use the event id.
   */
  handle(req: IncomingMessage, res: ServerResponse, requestId: string | null): void {
    const r = new RequestRecord(req, res, requestId);
    (res as ServerResponse & WithRecord)[kRecord] = r;
    res.on('close', this.onClose);
    let problem = this.shedder.enter(r);
    if (problem === null) {
      const snap = this.deps.controlPlane.current;
      if (snap === null) problem = NOT_READY;
      else {
        r.snapshot = snap;
        problem = matchRoute(r, snap);
      }
    }
    if (problem !== null) {
      this.finisher.answer(r, problem);
      return;
    }
    const token = this.identifier.readCredential(r);
    if (r.route!.public) {
      this.answerOrForward(r, this.requestAdmission.admitAnonymous(r));
      return;
    }
    const identified = this.identifier.identify(r, token);
    if (identified === null) {
      const limited = this.authorize(r);
      if (limited !== undefined) limited.catch((err: unknown) => this.internalError(r, err));
    } else if (identified instanceof Promise) {
      identified
        .then((p) => (p === null ? this.authorize(r) : this.finisher.answer(r, p)))
        .catch((err: unknown) => this.internalError(r, err));
    } else this.finisher.answer(r, identified);
  }

  /** Stops the timers of body-rate checks and load shedding (the proxy listener is closing). */
  close(): void {
    this.bodyRate.close();
    this.shedder.close();
  }

  /** An identified request: entitlement, admission, limits. */
  private authorize(r: RequestRecord): Promise<void> | undefined {
    // The client left during the key lookup: its request is finished, nothing may be acquired.
    if (r.finished) return undefined;
    const problem = authorizePlan(r, r.snapshot!) ?? this.requestAdmission.admitConsumer(r);
    if (problem !== null) {
      this.finisher.answer(r, problem);
      return undefined;
    }
    const checked = this.limits.check(r);
    if (checked instanceof Promise) return checked.then((p) => this.answerOrForward(r, p));
    this.answerOrForward(r, checked);
    return undefined;
  }

  private answerOrForward(r: RequestRecord, problem: Problem | null): void {
    if (problem !== null) {
      this.finisher.answer(r, problem);
      return;
    }
    if (r.finished) {
      // The client left while the limiter decided: nothing was served, so whatever the limiter
      // counted goes back (the request was finished, not billable, before it was admitted).
      this.finisher.refundUnserved(r);
      return;
    }
    const refused = this.forwarder.forward(r);
    if (refused !== null) this.finisher.answer(r, refused);
  }

  private internalError(r: RequestRecord, err: unknown): void {
    this.deps.logger.error({ err, reqId: r.requestId }, 'gateway request path error');
    this.finisher.answer(r, INTERNAL_ERROR);
  }
}
