import { describe, expect, it } from 'vitest';
import { parseUsageEvent, type UsageEventV1 } from './usage-event.ts';
import { uuidv7 } from './uuidv7.ts';

const valid = (): UsageEventV1 => ({
  specversion: '1.0',
  type: 'tollgate.usage.v1',
  source: 'gateway/test',
  id: uuidv7(),
  time: new Date().toISOString(),
  subject: 'c1',
  data: {
    consumerId: 'c1',
    keyId: 'k1',
    planId: 'p1',
    subscriptionId: 's1',
    apiId: 'a1',
    routeId: 'r1',
    method: 'GET',
    status: 200,
    bytesIn: 0,
    bytesOut: 12,
    latencyMs: 1.5,
    units: 1,
    billable: true,
  },
});

describe('usage event parsing', () => {
  it('accepts a valid v1 event unchanged', () => {
    const e = valid();
    expect(parseUsageEvent(JSON.stringify(e))).toEqual({ ok: true, event: e });
    expect(parseUsageEvent(new TextEncoder().encode(JSON.stringify(e)))).toEqual({ ok: true, event: e });
  });

  it('gives a reason for poison: not JSON, unknown version, missing fields, bad id', () => {
    expect(parseUsageEvent('{nope')).toEqual({ ok: false, reason: 'not JSON' });
    expect(parseUsageEvent(JSON.stringify({ ...valid(), type: 'tollgate.usage.v9' }))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('unknown event type'),
    });
    const { data: _data, ...noData } = valid();
    expect(parseUsageEvent(JSON.stringify(noData))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('data'),
    });
    expect(parseUsageEvent(JSON.stringify({ ...valid(), id: 'not-a-uuid' }))).toMatchObject({ ok: false });
    expect(parseUsageEvent('null')).toMatchObject({ ok: false });
  });
});
