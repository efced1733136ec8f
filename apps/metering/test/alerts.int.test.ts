import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createUsageStore, type UsageStore } from '@tollgate/clickhouse';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '@tollgate/clickhouse/testing';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import type { Kafka } from '@tollgate/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlertEvaluator } from '../src/alerts/alert-evaluator.ts';
import { deliverDueAlerts } from '../src/alerts/deliver-usage-alerts.ts';
import { evaluateUsageAlerts } from '../src/alerts/evaluate-usage-alerts.ts';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../src/alerts/sign-webhook.ts';
import { createWebhookDispatcher } from '../src/alerts/webhook-dispatcher.ts';
import type { Ingest } from '../src/ingest/start-ingest.ts';
import { silentLog } from '../src/log.ts';
import { auth, createAccount, testApp } from './accounts.ts';
import { quietly } from './cleanup.ts';
import {
  clickhouseRunner,
  createTestTopics,
  makeEvent,
  produce,
  randomId,
  startTestIngest,
  testKafka,
  waitFor,
  waitForCaughtUp,
} from './helpers.ts';

interface Received {
  body: string;
  signatureValid: boolean;
  alertId: string;
}

/** A consumer's webhook endpoint: verifies the HMAC of every call; answers 500 to the first one. */
async function startReceiver(secret: string): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  let calls = 0;
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    calls += 1;
    const header = String(req.headers[SIGNATURE_HEADER.toLowerCase()] ?? '');
    received.push({
      body,
      signatureValid: verifyWebhookSignature(secret, body, header, Math.floor(Date.now() / 1000)),
      alertId: String(req.headers['tollgate-alert-id']),
    });
    res.statusCode = calls === 1 ? 500 : 204;
    res.end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/usage`, received };
}

describe('alerts.thresholds', () => {
  let ch: TestClickhouseDatabase;
  let db: TestDatabase;
  let store: ReturnType<typeof clickhouseRunner>;
  let usage: UsageStore;
  let kafka: Kafka;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const running: Ingest[] = [];

  beforeAll(async () => {
    [ch, db] = await Promise.all([createTestClickhouseDatabase(), createTestDatabase()]);
    store = clickhouseRunner(ch.url, ch.database);
    usage = createUsageStore(store.runner);
    kafka = testKafka();
  });
  afterAll(async () => {
    for (const i of running) await i.stop();
    receiver?.server.close();
    await store.close();
    await Promise.all([quietly('drop ClickHouse database', () => ch.drop()), db.drop()]);
  });

  it('each threshold fires once per period, also when the events are replayed, delivered signed with retries', async () => {
    const secret = `whsec_${randomId()}`;
    receiver = await startReceiver(secret);
    const now = new Date();
    const periodStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const account = await createAccount(db.prisma, {
      quota: 100,
      periodStart,
      webhookUrl: receiver.url,
      webhookSecret: secret,
    });
    const { consumerId } = account;
    const { topic, dlq } = await createTestTopics(kafka, 3);
    const evaluator = createAlertEvaluator(
      (ids) => evaluateUsageAlerts({ prisma: db.prisma, usage, now: new Date() }, ids),
      silentLog,
    );
    const ingestWith = async (groupId: string) => {
      const ingest = await startTestIngest({
        kafka,
        store: store.runner,
        topic,
        deadLetterTopic: dlq,
        groupId,
        onStored: (batch) => evaluator.touched(batch.consumerIds),
      });
      running.push(ingest);
      return ingest;
    };
    const alerts = () =>
      db.prisma.usageAlert.findMany({
        where: { consumerId },
        orderBy: [{ periodStart: 'asc' }, { threshold: 'asc' }],
      });
    const units = (n: number) => Array.from({ length: n }, () => makeEvent({ consumerId, units: 1 }));

    const groupId = `metering-${randomId()}`;
    const ingest = await ingestWith(groupId);
    // 79 units: below every threshold. Non-billable requests do not count.
    await produce(kafka, topic, [
      ...units(79),
      makeEvent({ consumerId, units: 5, billable: false, status: 429 }),
    ]);
    await waitForCaughtUp(kafka, groupId, topic);
    await evaluator.idle();
    expect(await alerts()).toEqual([]);

    // 80: the first threshold.
    await produce(kafka, topic, units(1));
    await waitFor('the 80 % alert', async () => (await alerts()).length === 1);
    // 104: 95 and 100 together, each once.
    await produce(kafka, topic, units(24));
    await waitFor('the 95 and 100 % alerts', async () => (await alerts()).length === 3);
    await waitForCaughtUp(kafka, groupId, topic);
    await evaluator.idle();
    await ingest.stop();

    // Deliver: the receiver fails the first call, so one alert needs a retry.
    // The receiver listens on 127.0.0.1: private networks allowed here (the guard has its own test).
    const dispatcher = createWebhookDispatcher({ allowPrivateNetworks: true, timeoutMs: 2000 });
    const deliver = () =>
      deliverDueAlerts({
        prisma: db.prisma,
        dispatcher,
        allowPrivateNetworks: true,
        log: silentLog,
        maxAttempts: 5,
        timeoutMs: 2000,
        retryInitialMs: 100,
        retryMaxMs: 200,
      });
    await waitFor(
      'every alert delivered',
      async () => {
        await deliver();
        return (await alerts()).every((a) => a.deliveredAt !== null);
      },
      30_000,
      100,
    );
    const delivered = await alerts();
    expect(delivered.map((a) => [a.threshold, Number(a.quota)])).toEqual([
      [80, 100],
      [95, 100],
      [100, 100],
    ]);
    // Raised from the exact total at the time: at or past its threshold, never past what was sent.
    expect(Number(delivered[0]!.usedUnits)).toBe(80);
    for (const a of delivered) {
      expect(Number(a.usedUnits)).toBeGreaterThanOrEqual(a.threshold);
      expect(Number(a.usedUnits)).toBeLessThanOrEqual(104);
    }
    expect(delivered.every((a) => a.periodStart.getTime() === periodStart.getTime())).toBe(true);
    expect(receiver.received).toHaveLength(4);
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    expect(delivered.map((a) => a.attempts).sort()).toEqual([1, 1, 2]);
    const bodies = receiver.received
      .slice(1)
      .map((r) => JSON.parse(r.body) as { threshold: number; id: string; type: string });
    expect(bodies.map((b) => b.threshold).sort((a, b) => a - b)).toEqual([80, 95, 100]);
    expect(new Set(receiver.received.map((r) => r.alertId)).size).toBe(3);

    // Replay everything with a new group: exact totals do not move, so no alert fires again.
    const replayGroup = `metering-replay-${randomId()}`;
    const replay = await ingestWith(replayGroup);
    await waitForCaughtUp(kafka, replayGroup, topic);
    await evaluator.idle();
    await replay.stop();
    await evaluateUsageAlerts({ prisma: db.prisma, usage, now: new Date() }, [consumerId]);
    await deliver();
    expect(await alerts()).toHaveLength(3);
    expect(receiver.received).toHaveLength(4);

    // The next period starts over: its own 80 % alert, once.
    const nextStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    const inNext = new Date(nextStart.getTime() + 3_600_000);
    await produce(
      kafka,
      topic,
      Array.from({ length: 85 }, () => makeEvent({ consumerId, time: inNext })),
    );
    const nextGroup = `metering-next-${randomId()}`;
    const next = await ingestWith(nextGroup);
    await waitForCaughtUp(kafka, nextGroup, topic);
    await next.stop();
    for (let i = 0; i < 2; i++) {
      await evaluateUsageAlerts({ prisma: db.prisma, usage, now: new Date(inNext.getTime() + 60_000) }, [
        consumerId,
      ]);
    }
    const all = await alerts();
    expect(all.map((a) => [a.periodStart.toISOString(), a.threshold])).toEqual([
      [periodStart.toISOString(), 80],
      [periodStart.toISOString(), 95],
      [periodStart.toISOString(), 100],
      [nextStart.toISOString(), 80],
    ]);

    // The portal lists them.
    const app = testApp(usage, db.prisma);
    const listed = await app.inject({ url: `/v1/alerts?consumerId=${consumerId}`, headers: auth });
    expect(listed.statusCode).toBe(200);
    expect((listed.json() as { alerts: { threshold: number }[] }).alerts.map((a) => a.threshold)).toEqual([
      80, 100, 95, 80,
    ]);
  }, 180_000);

  it('alert webhooks never reach private or loopback addresses (SSRF guard)', async () => {
    const secret = `whsec_${randomId()}`;
    const target = await startReceiver(secret);
    const urls = [
      target.url,
      target.url.replace('127.0.0.1', 'localhost'),
      'http://169.254.169.254/latest/meta-data',
      'file:///etc/passwd',
    ];
    const ids: string[] = [];
    for (const url of urls) {
      const account = await createAccount(db.prisma, { quota: 10, webhookUrl: url, webhookSecret: secret });
      const alert = await db.prisma.usageAlert.create({
        data: {
          consumerId: account.consumerId,
          subscriptionId: account.subscriptionId,
          periodStart: new Date(Date.UTC(2026, 10, 1)),
          threshold: 80,
          usedUnits: 8n,
          quota: 10n,
        },
      });
      ids.push(alert.id);
    }
    const dispatcher = createWebhookDispatcher({ allowPrivateNetworks: false, timeoutMs: 2000 });
    try {
      const result = await deliverDueAlerts({
        prisma: db.prisma,
        dispatcher,
        allowPrivateNetworks: false,
        log: silentLog,
        maxAttempts: 5,
        timeoutMs: 2000,
        retryInitialMs: 60_000,
        retryMaxMs: 60_000,
      });
      // (The previous test's undelivered next-period alert is in the same outbox: also refused.)
      expect(result.delivered).toBe(0);
      expect(result.failed).toBeGreaterThanOrEqual(4);
    } finally {
      await dispatcher.close();
      target.server.close();
    }
    expect(target.received).toHaveLength(0);
    const rows = await db.prisma.usageAlert.findMany({ where: { id: { in: ids } } });
    const errors = new Map(rows.map((r) => [r.id, r.lastError]));
    expect(errors.get(ids[0]!)).toBe('webhook URL points to a private address');
    expect(errors.get(ids[1]!)).toMatch(/resolves to a private address/);
    expect(errors.get(ids[2]!)).toBe('webhook URL points to a private address');
    expect(errors.get(ids[3]!)).toBe('webhook URL must be http(s)');
    expect(rows.every((r) => r.deliveredAt === null)).toBe(true);
  });
});
