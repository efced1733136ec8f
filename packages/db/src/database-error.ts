import { TollgateError } from '@tollgate/core';

/**
 * The one place a Postgres refusal of a value becomes the caller's error. Input the database
 * cannot store (NUL in text, a number out of a column's range, a duplicate key) is the
 * request's fault and gets a 4xx; a transient refusal (serialization failure, the server
 * shutting down) is a retryable 503. Anything else is left to the caller's generic handling.
 *
 * Read through Prisma 7 with the pg adapter (PrismaClientKnownRequestError, whose `code` is
 * Prisma's and whose `meta.driverAdapterError.cause` carries the SQLSTATE) and from raw `pg`
 * errors ($queryRaw, pg.Client). Matched by shape, not by class: the portal bundles its own
 * copy of the generated client, so `instanceof` would fail across bundles.
 */
export function databaseError(err: unknown): TollgateError | undefined {
  if (typeof err !== 'object' || err === null || err instanceof TollgateError) return undefined;
  const e = err as {
    name?: unknown;
    code?: unknown;
    severity?: unknown;
    meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; code?: unknown } } };
  };
  let state: unknown;
  if (e.name === 'PrismaClientKnownRequestError' && typeof e.code === 'string') {
    if (e.code === 'P2025') return new TollgateError('not_found', 'NOT_FOUND', 'The record was not found.');
    const cause = e.meta?.driverAdapterError?.cause;
    state = SQLSTATE_BY_PRISMA_CODE[e.code] ?? cause?.originalCode ?? cause?.code;
  } else if (typeof e.code === 'string' && typeof e.severity === 'string') {
    state = e.code; // a raw pg DatabaseError
  }
  return typeof state === 'string' ? fromSqlState(state, err) : undefined;
}

/** Prisma's own codes for refusals it reports without the SQLSTATE. */
const SQLSTATE_BY_PRISMA_CODE: Record<string, string> = {
  P2000: '22001',
  P2002: '23505',
  P2003: '23503',
  P2007: '22P02',
  P2020: '22003',
  P2023: '22P02',
  P2034: '40001',
};

function fromSqlState(state: string, cause: unknown): TollgateError | undefined {
  const options = { cause };
  if (state === '22021' || state === '22P05')
    return new TollgateError(
      'invalid',
      'INVALID_CHARACTER',
      'A text value contains a character that cannot be stored (NUL, U+0000).',
      options,
    );
  if (state === '22001')
    return new TollgateError('invalid', 'VALUE_TOO_LONG', 'A value is too long for its field.', options);
  if (state === '22003')
    return new TollgateError(
      'invalid',
      'VALUE_OUT_OF_RANGE',
      'A number is out of range for its field.',
      options,
    );
  // Class 22: every other data exception (bad uuid, date or number syntax).
  if (state.startsWith('22'))
    return new TollgateError('invalid', 'INVALID_VALUE', 'A value is not valid for its field.', options);
  if (state === '23505')
    return new TollgateError(
      'conflict',
      'ALREADY_EXISTS',
      'A record with this unique value already exists.',
      options,
    );
  if (state === '23503')
    return new TollgateError(
      'conflict',
      'REFERENCE_CONFLICT',
      'The change refers to a record that does not exist, or removes one that others refer to.',
      options,
    );
  if (state === '23502' || state === '23514')
    return new TollgateError(
      'invalid',
      'CONSTRAINT_VIOLATED',
      'A value breaks a rule of its field.',
      options,
    );
  // Serialization failure, deadlock, the server shutting down or refusing connections.
  if (state === '40001' || state === '40P01' || state.startsWith('57P') || state.startsWith('08'))
    return new TollgateError(
      'unavailable',
      'DATABASE_UNAVAILABLE',
      'The database is busy; try again.',
      options,
    );
  return undefined;
}
