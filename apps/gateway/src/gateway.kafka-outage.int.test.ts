import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { createKafka, ensureTopics } from '@tollgate/kafka';
import { readUsageTopic } from '@tollgate/kafka/testing';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateStack, sharedStackEnv, startPrivateStack } from '../../../infra/testing/stack.ts';
import { type Echo, startEcho } from './testing/fixtures.ts';
import { type GatewayProcess, startGatewayProcess } from './testing/gateway-process.ts';
import { type SeededGateway, seedGateway } from './testing/seed.ts';

// Stops Kafka on purpose: a PRIVATE Kafka (never the shared stack's).
const shared = sharedStackEnv();

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

describe('gateway.kafka-outage (private Kafka stopped for 10+ s under load)', () => {
  let stack: PrivateStack;
  let db: TestDatabase;
  let echo: Echo;
  let seeded: SeededGateway;
  let gateway: GatewayProcess | undefined;
  const topic = `tollgate.usage.v2.test-${randomUUID()}`;

  beforeAll(async () => {
    stack = await startPrivateStack({ services: ['kafka'] });
    db = await createTestDatabase();
    echo = await startEcho();
    seeded = await seedGateway(db.prisma, echo.url, { quota: null });
    const kafka = createKafka({ brokers: stack.env.KAFKA_BROKERS!.split(','), clientId: 'gw-outage-setup' });
    await ensureTopics(kafka, [{ topic, numPartitions: 3 }]);
    gateway = await startGatewayProcess({
      DATABASE_URL: db.url,
      REDIS_URL: shared.REDIS_URL!,
      REDIS_TIMEOUT_MS: '1000',
      GATEWAY_REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      KAFKA_BROKERS: stack.env.KAFKA_BROKERS!,
      GATEWAY_USAGE_TOPIC: topic,
    });
  }, 300_000);

  afterAll(async () => {
    await gateway?.stop();
    await echo?.close();
    await db?.drop();
    await stack?.destroy();
  }, 120_000);

  it('latency does not wait on the outage; afterwards every request has exactly one event (ids compared)', async () => {
    const agent = new Agent({ connections: 8 });
    type Phase = 'warmup' | 'before' | 'outage' | 'after';
    const results: { id: string; status: number; ms: number; phase: Phase }[] = [];
    // Warm-up (JIT, key cache, connections) is metered but not part of the latency baseline.
    let phase: Phase = 'warmup';
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const t0 = performance.now();
        const p = phase;
        const res = await request(`${gateway!.url}/svc/x`, {
          headers: { 'x-api-key': seeded.key },
          dispatcher: agent,
        });
        await res.body.dump();
        results.push({
          id: String(res.headers['x-tollgate-event-id']),
          status: res.statusCode,
          ms: performance.now() - t0,
          phase: p,
        });
        // ~50 requests/s per worker at most: load, not a flood.
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await new Promise((r) => setTimeout(r, 2000));
    phase = 'before';
    await new Promise((r) => setTimeout(r, 3000));
    phase = 'outage';
    await stack.stop('kafka');
    const outageStart = Date.now();
    await new Promise((r) => setTimeout(r, 11_000));
    await stack.start('kafka');
    const outageMs = Date.now() - outageStart;
    phase = 'after';
    await new Promise((r) => setTimeout(r, 3000));
    stop = true;
    await Promise.all(workers);
    await agent.close();

    expect(outageMs).toBeGreaterThanOrEqual(10_000);
    expect(results.filter((r) => r.status !== 200).map((r) => `${r.phase} ${r.status}`)).toEqual([]);
    const before = results.filter((r) => r.phase === 'before').map((r) => r.ms);
    const during = results.filter((r) => r.phase === 'outage').map((r) => r.ms);
    expect(during.length).toBeGreaterThan(200);
    const [p99Before, p99During] = [p99(before), p99(during)];
    console.info(
      `kafka outage ${outageMs} ms: p99 before ${p99Before.toFixed(1)} ms, during ${p99During.toFixed(1)} ms (${during.length} requests)`,
    );
    // Waiting on Kafka would cost connection timeouts (seconds); allow scheduler noise only.
    expect(
      p99During,
      `p99 before ${p99Before.toFixed(1)} ms, during ${p99During.toFixed(1)} ms`,
    ).toBeLessThan(Math.max(3 * p99Before, p99Before + 50));

    const kafka = createKafka({ brokers: stack.env.KAFKA_BROKERS!.split(','), clientId: 'gw-outage-read' });
    const want = new Set(results.map((r) => r.id));
    let events: Awaited<ReturnType<typeof readUsageTopic>> = [];
    const until = Date.now() + 90_000;
    while (Date.now() < until) {
      events = await readUsageTopic(kafka, topic).catch(() => []);
      if (events.length >= want.size) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const ids = events.map((e) => e.id);
    expect(ids.length).toBe(want.size);
    expect(new Set(ids)).toEqual(want);
  }, 240_000);
});
