/**
 * A refusal the gateway answers itself (problem+json). Every step that can refuse names its
 * problems as constants (defined once, at module load); the step returns one and the request
 * handler hands it to the finisher, which renders it (finish-request.ts). What varies per
 * request (a Retry-After computed from a decision) is a field of the request record.
 */
export interface Problem {
  readonly status: number;
  readonly code: string;
  /** `type`'s last segment: the error kind (STYLE.md's closed set). */
  readonly kind: string;
  readonly title: string;
  readonly detail: string;
  /** Which limit refused: the body carries `limit` and `retryAfterSeconds`. */
  readonly limit: string | null;
  /** Retry-After in seconds; 0: none; RETRY_AFTER_FROM_RECORD: the record's `retryAfterS`. */
  readonly retryAfterS: number;
  /** Answer with Connection: close (an unread or oversized body). */
  readonly closeConnection: boolean;
  /** A 401's WWW-Authenticate value. */
  readonly wwwAuthenticate: string | null;
  /** The body's `reason` (BAD_PATH: which rule of the canonical path). */
  readonly reason: string | null;
  /** The body up to `"requestId":`, rendered once. */
  readonly bodyHead: string;
}

export const RETRY_AFTER_FROM_RECORD = -1;

const TITLES: Record<number, string> = {
  400: 'bad request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not found',
  408: 'request timeout',
  413: 'payload too large',
  429: 'too many requests',
  500: 'internal error',
  502: 'bad gateway',
  503: 'unavailable',
  504: 'gateway timeout',
};

const KIND_BY_STATUS: Record<number, string> = {
  400: 'invalid',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  408: 'invalid',
  413: 'payload_too_large',
  500: 'internal',
  502: 'unavailable',
  503: 'unavailable',
  504: 'unavailable',
};

export interface ProblemSpec {
  status: number;
  code: string;
  detail: string;
  limit?: string;
  retryAfterS?: number;
  closeConnection?: boolean;
  wwwAuthenticate?: string;
  reason?: string;
}

export function defineProblem(spec: ProblemSpec): Problem {
  const kind =
    spec.status === 429
      ? spec.code === 'QUOTA_EXCEEDED'
        ? 'quota_exceeded'
        : 'rate_limited'
      : (KIND_BY_STATUS[spec.status] ?? 'internal');
  const title = TITLES[spec.status] ?? 'error';
  return {
    status: spec.status,
    code: spec.code,
    kind,
    title,
    detail: spec.detail,
    limit: spec.limit ?? null,
    retryAfterS: spec.retryAfterS ?? 0,
    closeConnection: spec.closeConnection ?? false,
    wwwAuthenticate: spec.wwwAuthenticate ?? null,
    reason: spec.reason ?? null,
    bodyHead: `{"type":"https://tollgate.dev/problems/${kind}","title":"${title}","status":${spec.status},"detail":${JSON.stringify(spec.detail)},"code":"${spec.code}","requestId":`,
  };
}

export const INTERNAL_ERROR = defineProblem({
  status: 500,
  code: 'INTERNAL',
  detail: 'An unexpected error occurred.',
});
