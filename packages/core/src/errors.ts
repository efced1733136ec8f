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
