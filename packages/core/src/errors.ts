/**
 * One error type for every app. `kind` is a closed set that maps to an HTTP status in each
 * app's single error handler; `code` is an open set of stable machine-readable codes.
 */
export const ERROR_KINDS = [
  'not_found',
  'conflict',
  'invalid',
  'unauthenticated',
  'forbidden',
  'rate_limited',
  'quota_exceeded',
  'payload_too_large',
  'method_not_allowed',
  'unsupported_media_type',
  'unavailable',
  'internal',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export const STATUS_BY_KIND: Record<ErrorKind, number> = {
  not_found: 404,
  conflict: 409,
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  rate_limited: 429,
  quota_exceeded: 429,
  payload_too_large: 413,
  method_not_allowed: 405,
  unsupported_media_type: 415,
  unavailable: 503,
  internal: 500,
};

export interface TollgateErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class TollgateError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, code: string, message: string, options: TollgateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TollgateError';
    this.kind = kind;
    this.code = code;
    this.retryable = options.retryable ?? kind === 'unavailable';
    this.details = options.details;
  }

  get status(): number {
    return STATUS_BY_KIND[this.kind];
  }
}

export function isTollgateError(err: unknown): err is TollgateError {
  return err instanceof TollgateError;
}

/** RFC 9457 problem details body. Unknown errors render as a generic 500 that leaks nothing. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId?: string;
  [extra: string]: unknown;
}

export function toProblem(err: unknown, requestId?: string): ProblemDetails {
  if (isTollgateError(err)) {
    return {
      type: `https://tollgate.dev/problems/${err.kind}`,
      title: err.kind.replaceAll('_', ' '),
      status: err.status,
      detail: err.message,
      code: err.code,
      ...(requestId === undefined ? {} : { requestId }),
      ...err.details,
    };
  }
  return {
    type: 'https://tollgate.dev/problems/internal',
    title: 'internal error',
    status: 500,
    detail: 'An unexpected error occurred.',
    code: 'INTERNAL',
    ...(requestId === undefined ? {} : { requestId }),
  };
}

const KIND_BY_STATUS: Record<number, ErrorKind> = {
  400: 'invalid',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  422: 'invalid',
};
const PROBLEM_TYPE = /^https:\/\/tollgate\.dev\/problems\/([a-z_]+)$/;
const STABLE_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * The error a caller raises for another service's error answer, so a problem keeps its kind and
 * code across the hop: a 409 from billing is a 409 for the portal's caller, not a 503. The kind
 * comes from the problem's `type` when it agrees with the status, else from the status. Only
 * 5xx (and network failures, which the caller maps itself) become `unavailable`. A 401 means
 * the calling service's own token was refused: a deployment fault, not the end user's
 * credentials, so it becomes `internal` rather than a 401 that would look like a sign-in problem.
 */
export function errorFromProblem(service: string, status: number, body: unknown): TollgateError {
  const problem = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const typed = typeof problem.type === 'string' ? PROBLEM_TYPE.exec(problem.type)?.[1] : undefined;
  const fromType = ERROR_KINDS.find((k) => k === typed && STATUS_BY_KIND[k] === status);
  const kind: ErrorKind =
    status >= 500
      ? 'unavailable'
      : status === 401
        ? 'internal'
        : (fromType ?? KIND_BY_STATUS[status] ?? (status === 429 ? 'rate_limited' : 'invalid'));
  const label = service.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
  const code =
    typeof problem.code === 'string' && STABLE_CODE.test(problem.code) && kind !== 'unavailable'
      ? problem.code
      : `${label}_${kind === 'unavailable' ? 'UNAVAILABLE' : status}`;
  const detail = typeof problem.detail === 'string' ? problem.detail.slice(0, 300) : '';
  const message =
    kind === 'unavailable'
      ? `The ${service} service is unavailable right now (it answered ${status}). Try again shortly.`
      : kind === 'internal'
        ? `The ${service} service refused this service's credentials.`
        : detail || `The ${service} service answered ${status}.`;
  return new TollgateError(kind, code, message);
}
