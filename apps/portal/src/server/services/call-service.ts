import { errorFromProblem, TollgateError } from '@tollgate/core';
import { getConfig } from '../../config.ts';

export type ServiceName = 'metering' | 'billing';

export type ServiceResult<T> =
  | { ok: true; data: T }
  | { ok: false; error: string; status?: number; problem?: unknown };

/**
 * Calls metering or billing with its bearer token and a timeout. Never throws: a service that
 * is down or answers with an error becomes a readable message the page shows; use cases turn a
 * failed result into an error of the same kind with `serviceError`.
 */
export async function callService<T>(
  service: ServiceName,
  path: string,
  init: { method?: 'GET' | 'POST'; body?: unknown; raw?: boolean } = {},
): Promise<ServiceResult<T>> {
  const config = getConfig();
  const base = service === 'metering' ? config.METERING_URL : config.BILLING_URL;
  const token = service === 'metering' ? config.METERING_SERVICE_TOKEN : config.BILLING_SERVICE_TOKEN;
  const label = service === 'metering' ? 'The metering service' : 'The billing service';
  const url = new URL(path, base);
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${token}`,
        accept: init.raw ? '*/*' : 'application/json',
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(config.SERVICE_TIMEOUT_MS),
      cache: 'no-store',
    });
  } catch {
    return {
      ok: false,
      error: `${label} is unavailable right now (${url.origin} did not answer). Try again shortly.`,
    };
  }
  if (!res.ok) {
    let detail = '';
    let problem: unknown;
    try {
      problem = await res.json();
      const body = problem as { detail?: unknown; title?: unknown; message?: unknown };
      const text = body.detail ?? body.message ?? body.title;
      if (typeof text === 'string') detail = `: ${text.slice(0, 300)}`;
    } catch {
      // not JSON: keep the status only
    }
    return { ok: false, status: res.status, problem, error: `${label} answered ${res.status}${detail}` };
  }
  try {
    const data = (init.raw ? await res.text() : await res.json()) as T;
    return { ok: true, data };
  } catch {
    return { ok: false, error: `${label} sent a response the portal could not read.` };
  }
}

/**
 * The error a use case throws for a failed call: the service's problem keeps its kind and code
 * (billing's 409 SAME_PLAN is a 409 for the portal's caller, its 404 NO_SUBSCRIPTION a 404); only
 * an unreachable service or a 5xx is 503 unavailable.
 */
export function serviceError(
  service: ServiceName,
  res: { error: string; status?: number; problem?: unknown },
) {
  if (res.status === undefined)
    return new TollgateError('unavailable', `${service.toUpperCase()}_UNAVAILABLE`, res.error);
  return errorFromProblem(service, res.status, res.problem);
}

export function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  return q.toString();
}
