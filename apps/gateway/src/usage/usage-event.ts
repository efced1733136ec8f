import { USAGE_EVENT_TYPE_V1, type UsageEventV1 } from '@tollgate/core';
import type { RequestRecord } from '../request-record.ts';

/** The last event time rendered: requests of one millisecond share it (toISOString is ~1 µs). */
let lastMs = Number.NaN;
let lastIso = '';

function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/**
 * The usage event of one finished request with an identified consumer and a route (the caller
 * checks both). `status` 499: the client left before an answer.
 */
export function usageEventOf(
  r: RequestRecord,
  source: string,
  status: number,
  latencyMs: number,
  billable: boolean,
): UsageEventV1 {
  const route = r.route!;
  return {
    specversion: '1.0',
    type: USAGE_EVENT_TYPE_V1,
    source,
    id: r.eventId,
    time: isoTime(r.startMs),
    subject: r.consumerId!,
    data: {
      consumerId: r.consumerId!,
      keyId: r.keyId,
      planId: r.plan?.plan.id ?? null,
      subscriptionId: r.sub?.id ?? null,
      apiId: route.api.id,
      routeId: route.id,
      method: r.method,
      status,
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      latencyMs,
      units: route.cost,
      billable,
    },
  };
}
