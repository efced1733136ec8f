import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../metrics.ts';
import { EgressPolicy } from '../proxy/egress-policy.ts';
import { TargetRegistry } from '../proxy/upstream.ts';
import { fixtureSnapshot, IDS } from '../testing/fixtures.ts';
import { compileSnapshot, type Snapshot } from './compile-snapshot.ts';
import { ConfigProbation } from './config-probation.ts';
import type { RawSnapshot, RestoreApisOutcome, RestoreApisRequest } from './types.ts';

const registry = new TargetRegistry({
  connections: 1,
  connectTimeoutMs: 100,
  passiveFailures: 1,
  breakerFailures: 1,
  breakerOpenMs: 100,
  egress: new EgressPolicy([]),
});

function snapshot(version: number, url: string, previous: Snapshot | null = null): Snapshot {
  const raw: RawSnapshot = { ...fixtureSnapshot(url), version };
  raw.apis[0]!.targets[0]!.healthCheckPath = '/health';
  return compileSnapshot(raw, {
    defaultMaxBodyBytes: 1000,
    target: (u, hc) => registry.acquire(u, hc),
    previous,
  });
}
const target = (s: Snapshot) => s.apis.get(IDS.api)!.upstream.targets[0]!;

function probation(outcome: () => Promise<RestoreApisOutcome>) {
  const calls: RestoreApisRequest[] = [];
  const metrics = createMetrics();
  const p = new ConfigProbation({
    failedChecks: 3,
    maxAgeMs: 60_000,
    instanceId: 'gateway/unit',
    restore: (request) => {
      calls.push(request);
      return outcome();
    },
    metrics,
    logger: pino({ level: 'silent' }),
  });
  return { p, calls, metrics };
}
const settle = () => new Promise((r) => setImmediate(r));

describe('control-plane.probation', () => {
  afterAll(() => registry.close());

  it('rolls back an upstream change after its new target fails three checks, naming both versions', async () => {
    const { p, calls, metrics } = probation(async () => 'restored');
    const good = snapshot(10, 'http://127.0.0.1:4010');
    p.onHealthResult(target(good), true);
    const bad = snapshot(11, 'http://127.0.0.1:1', good);
    p.onApplied(good, bad);
    expect(p.pending()).toEqual([{ api: 'echo', version: 11, restoring: false }]);
    p.onHealthResult(target(bad), false);
    p.onHealthResult(target(bad), false);
    expect(calls).toEqual([]);
    p.onHealthResult(target(bad), false);
    expect(calls).toEqual([
      expect.objectContaining({
        version: 10,
        apiIds: [IDS.api],
        ifUnchangedSince: 11,
        actorId: 'gateway/unit',
      }),
    ]);
    await settle();
    expect(p.pending()).toEqual([]);
    expect(await metrics.registry.getSingleMetricAsString('tollgate_gateway_config_rollbacks_total')).toMatch(
      /result="restored"} 1/,
    );
  });

  it('leaves alone a change whose upstream was not healthy before, or that passes one check', () => {
    const { p, calls } = probation(async () => 'restored');
    const down = snapshot(20, 'http://127.0.0.1:4011');
    p.onHealthResult(target(down), false);
    const next = snapshot(21, 'http://127.0.0.1:4012', down);
    p.onApplied(down, next);
    expect(p.pending()).toEqual([]);

    p.onHealthResult(target(next), true);
    const third = snapshot(22, 'http://127.0.0.1:4013', next);
    p.onApplied(next, third);
    expect(p.pending()).toHaveLength(1);
    p.onHealthResult(target(third), false);
    p.onHealthResult(target(third), true);
    for (let i = 0; i < 5; i++) p.onHealthResult(target(third), false);
    expect(p.pending()).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('a route-only change is not on probation; a failed restore is tried again on the next failed check', async () => {
    let fail = true;
    const { p, calls } = probation(async () => {
      if (fail) throw new Error('postgres down');
      return 'superseded';
    });
    const good = snapshot(30, 'http://127.0.0.1:4014');
    p.onHealthResult(target(good), true);
    const routeOnly: RawSnapshot = { ...fixtureSnapshot('http://127.0.0.1:4014'), version: 31 };
    routeOnly.apis[0]!.targets[0]!.healthCheckPath = '/health';
    routeOnly.apis[0]!.routes[0]!.cost = 9;
    const changed = compileSnapshot(routeOnly, {
      defaultMaxBodyBytes: 1000,
      target: (u, hc) => registry.acquire(u, hc),
      previous: good,
    });
    p.onApplied(good, changed);
    expect(p.pending()).toEqual([]);

    const bad = snapshot(32, 'http://127.0.0.1:2', changed);
    p.onApplied(changed, bad);
    for (let i = 0; i < 3; i++) p.onHealthResult(target(bad), false);
    await settle();
    expect(calls).toHaveLength(1);
    expect(p.pending()).toEqual([{ api: 'echo', version: 32, restoring: false }]);
    fail = false;
    p.onHealthResult(target(bad), false);
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1]).toMatchObject({ version: 31, ifUnchangedSince: 32 });
    expect(p.pending()).toEqual([]);
  });
});
