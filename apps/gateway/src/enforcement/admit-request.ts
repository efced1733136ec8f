import type { CounterCell } from '../metric-cells.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { defineProblem, type Problem } from '../problem.ts';
import type { RequestRecord } from '../request-record.ts';
import type { Admission } from './admission.ts';

export const BODY_TOO_LARGE = defineProblem({
  status: 413,
  code: 'BODY_TOO_LARGE',
  detail: "The request body exceeds this API's limit.",
  closeConnection: true,
});
const CONSUMER_CONCURRENCY = defineProblem({
  status: 429,
  code: 'CONCURRENCY_LIMITED',
  detail: 'Too many requests of this consumer in flight.',
  limit: 'concurrency',
  retryAfterS: 1,
});
const ADDRESS_CONCURRENCY = defineProblem({
  status: 429,
  code: 'CONCURRENCY_LIMITED',
  detail: 'Too many requests from this address in flight.',
  limit: 'concurrency',
  retryAfterS: 1,
});

/**
 * Admission before the limiter (a request refused here has nothing to refund): the declared
 * body size against the API's limit, then the concurrency bound of the consumer (identified
 * requests) or of the client address (public routes). The slots taken are recorded on the
 * record and released when it is finished.
 */
export class RequestAdmission {
  private readonly refusedByAddress: CounterCell;
  private readonly refusedByConsumer: CounterCell;

  constructor(
    private readonly admission: Admission,
    metrics: GatewayMetrics,
    private readonly addressOf: (r: RequestRecord) => string,
  ) {
    this.refusedByAddress = metrics.admissionRefused.labels('address');
    this.refusedByConsumer = metrics.admissionRefused.labels('consumer');
  }

  admitConsumer(r: RequestRecord): Problem | null {
    if (declaredBodyTooLarge(r)) return BODY_TOO_LARGE;
    if (this.admission.enterConsumer(r, r.consumerId!)) return null;
    this.refusedByConsumer.inc();
    return CONSUMER_CONCURRENCY;
  }

  /** A public route: no limiter, so admission is what admits it. */
  admitAnonymous(r: RequestRecord): Problem | null {
    if (declaredBodyTooLarge(r)) return BODY_TOO_LARGE;
    if (!this.admission.enterAddress(r, this.addressOf(r))) {
      this.refusedByAddress.inc();
      return ADDRESS_CONCURRENCY;
    }
    r.admitted = true;
    return null;
  }
}

/** 413 on a declared Content-Length above the API's limit (a streamed one is cut in proxy/). */
function declaredBodyTooLarge(r: RequestRecord): boolean {
  const cl = r.req.headers['content-length'];
  return cl !== undefined && Number(cl) > r.bodyLimit;
}
