import { isTollgateError, TollgateError } from '@tollgate/core';
import { databaseError } from '@tollgate/db/client';

export { isTollgateError };

import type { z } from '@tollgate/config';

export { TollgateError };

/** What a server action returns to the browser: never a stack trace, never a raw exception. */
export type ActionResult<T extends object = object> =
  | ({ ok: true; message?: string; redirect?: string } & T)
  | { ok: false; error: string; fieldErrors?: Record<string, string> };

export function invalid(message: string, fieldErrors?: Record<string, string>): TollgateError {
  return new TollgateError(
    'invalid',
    'INVALID_INPUT',
    message,
    fieldErrors ? { details: { fieldErrors } } : {},
  );
}

export function notFound(what: string): TollgateError {
  return new TollgateError('not_found', 'NOT_FOUND', `${what} not found`);
}

/** Parses input against an explicit schema: unknown fields are dropped (no mass assignment). */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fieldErrors: Record<string, string> = {};
  for (const issue of result.error.issues) {
    const key = issue.path.length > 0 ? issue.path.join('.') : '_';
    fieldErrors[key] ??= issue.message;
  }
  const first = Object.entries(fieldErrors)[0];
  throw invalid(
    first ? `${first[0] === '_' ? '' : `${first[0]}: `}${first[1]}` : 'invalid input',
    fieldErrors,
  );
}

/**
 * The error as the caller should see it: our own errors as they are, a value Postgres refused
 * (NUL in text, a number out of range, a duplicate key) as the 4xx it is; undefined for the
 * unexpected, which callers log and report generically. Shared by server actions and /admin/v1.
 */
export function knownError(err: unknown): TollgateError | undefined {
  return isTollgateError(err) ? err : databaseError(err);
}

/** Maps any error to a safe action result; unknown errors are logged and reported generically. */
export function toActionError(cause: unknown): {
  ok: false;
  error: string;
  fieldErrors?: Record<string, string>;
} {
  const err = knownError(cause) ?? cause;
  if (isTollgateError(err)) {
    const fieldErrors = err.details?.fieldErrors as Record<string, string> | undefined;
    return fieldErrors ? { ok: false, error: err.message, fieldErrors } : { ok: false, error: err.message };
  }
  console.error('portal action failed', err);
  return { ok: false, error: 'Something went wrong on our side. Please try again.' };
}
