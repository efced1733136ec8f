import { describe, expect, it } from 'vitest';
import { errorFromProblem, TollgateError, toProblem } from './errors.ts';

describe('errors across a service hop', () => {
  it('a problem keeps its kind, status and code', () => {
    for (const [kind, code] of [
      ['conflict', 'SAME_PLAN'],
      ['not_found', 'NO_SUBSCRIPTION'],
      ['invalid', 'INVALID_REQUEST'],
      ['forbidden', 'NOT_ALLOWED'],
      ['payload_too_large', 'BODY_TOO_LARGE'],
      ['quota_exceeded', 'QUOTA_EXCEEDED'],
    ] as const) {
      const original = new TollgateError(kind, code, `detail of ${code}`);
      const problem = toProblem(original, 'req-1');
      const again = errorFromProblem('billing', problem.status, JSON.parse(JSON.stringify(problem)));
      expect({ kind: again.kind, status: again.status, code: again.code, message: again.message }).toEqual({
        kind,
        status: original.status,
        code,
        message: `detail of ${code}`,
      });
    }
  });

  it('without a problem body the status decides the kind', () => {
    expect(errorFromProblem('billing', 409, 'not json').kind).toBe('conflict');
    expect(errorFromProblem('billing', 404, null)).toMatchObject({ kind: 'not_found', code: 'BILLING_404' });
    expect(errorFromProblem('billing', 418, {}).kind).toBe('invalid');
  });

  it('a type that disagrees with the status does not win', () => {
    const e = errorFromProblem('billing', 404, { type: 'https://tollgate.dev/problems/conflict', code: 'X' });
    expect(e.kind).toBe('not_found');
  });

  it('5xx become unavailable and retryable; their codes and details are not passed on', () => {
    for (const status of [500, 502, 503, 504]) {
      const e = errorFromProblem('billing', status, { code: 'STRIPE_ERROR', detail: 'secret internals' });
      expect(e).toMatchObject({ kind: 'unavailable', retryable: true, code: 'BILLING_UNAVAILABLE' });
      expect(e.message).not.toContain('secret internals');
    }
  });

  it('a refused service token is an internal fault, not the caller being signed out', () => {
    const e = errorFromProblem('billing', 401, { code: 'SERVICE_TOKEN_REQUIRED' });
    expect(e.status).toBe(500);
  });
});
