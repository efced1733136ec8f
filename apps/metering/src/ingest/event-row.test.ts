import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';
import { clickhouseDateTime, toUsageEventRow } from './event-row.ts';

const event = {
  specversion: '1.0' as const,
  type: 'tollgate.usage.v1' as const,
  source: 'gateway/a',
  id: '019a0000-0000-7000-8000-000000000001',
  time: '2026-11-21T23:09:05.123Z',
  subject: 'c1',
  data: {
    consumerId: 'c1',
    keyId: null,
    planId: 'p1',
    subscriptionId: null,
    apiId: 'api',
    routeId: 'route',
    method: 'POST',
    status: 201,
    bytesIn: 10,
    bytesOut: 20,
    latencyMs: 3.25,
    units: 4,
    billable: true,
  },
};

describe('event-row', () => {
  it('maps an event to its usage_events_v1 row: UTC second time plus milliseconds, empty strings for null ids', () => {
    const result = toUsageEventRow(event, new Date('2026-11-21T23:09:06.999Z'));
    expect(result).toEqual({
      ok: true,
      row: {
        event_id: event.id,
        time: '2026-11-21 23:09:05',
        time_ms: 123,
        source: 'gateway/a',
        consumer_id: 'c1',
        key_id: '',
        plan_id: 'p1',
        subscription_id: '',
        api_id: 'api',
        route_id: 'route',
        method: 'POST',
        status: 201,
        bytes_in: 10,
        bytes_out: 20,
        latency_ms: 3.25,
        units: 4,
        billable: 1,
        ingested_at: '2026-11-21 23:09:06',
      },
    });
  });

  it('refuses values the table cannot hold, so they are dead-lettered instead of blocking the partition', () => {
    expect(toUsageEventRow({ ...event, time: '1969-12-31T23:59:59.000Z' }, new Date()).ok).toBe(false);
    expect(toUsageEventRow({ ...event, data: { ...event.data, units: 2 ** 32 } }, new Date())).toEqual({
      ok: false,
      reason: `units out of range: ${2 ** 32}`,
    });
  });

  it('formats DateTime text in UTC', () => {
    expect(clickhouseDateTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)))).toBe('2026-01-02 03:04:05');
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffDelay(1, 100, 1000, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, 1000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 1000, () => 1)).toBe(400);
    expect(backoffDelay(20, 100, 1000, () => 1)).toBe(1000);
  });
});
