import { randomUUID } from 'node:crypto';
import { type UsageEventV1, uuidv7 } from '@tollgate/core';
import type { Kafka } from 'kafkajs';
import { createConsumer } from '../client.ts';

/** Test helpers for the usage sink: valid events, and reading a whole topic back. */
export function makeUsageEvent(consumerId: string, seq = 0): UsageEventV1 {
  const now = Date.now();
  return {
    specversion: '1.0',
    type: 'tollgate.usage.v1',
    source: 'gateway/test',
    id: uuidv7(now),
    time: new Date(now).toISOString(),
    subject: consumerId,
    data: {
      consumerId,
      keyId: 'key_1',
      planId: 'plan_pro',
      subscriptionId: 'sub_1',
      apiId: 'api_echo',
      routeId: 'route_1',
      method: 'GET',
      status: 200,
      bytesIn: 0,
      bytesOut: 100 + (seq % 100),
      latencyMs: 1.5,
      units: 1,
      billable: true,
    },
  };
}

export interface ReadMessage {
  key: string | null;
  id: string;
  consumerId: string;
  partition: number;
}

export interface ReadUsageMessage {
  key: string | null;
  partition: number;
  event: UsageEventV1;
}

/**
 * Reads every usage event in the topic: the total is exact (the sum of high watermarks, taken
 * when called: idempotent, non-transactional producers leave contiguous offsets), then a consumer
 * reads until every partition reached its watermark.
 */
export async function readUsageMessages(
  kafka: Kafka,
  topic: string,
  deadlineMs = 60_000,
): Promise<ReadUsageMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const high = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  const out: ReadUsageMessage[] = [];
  if (total === 0) return out;
  const consumer = createConsumer(kafka, { groupId: `read-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${out.length}/${total} messages of ${topic}`)),
        deadlineMs,
      );
      const reached = new Map<number, number>();
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          out.push({
            key: message.key === null ? null : message.key.toString(),
            partition,
            event: JSON.parse(message.value!.toString()) as UsageEventV1,
          });
          reached.set(partition, Number(message.offset) + 1);
          const done = [...high].every(([p, h]) => (reached.get(p) ?? 0) >= h || h === 0);
          if (done) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Every usage event in the topic, as published. */
export async function readUsageTopic(
  kafka: Kafka,
  topic: string,
  deadlineMs = 60_000,
): Promise<UsageEventV1[]> {
  return (await readUsageMessages(kafka, topic, deadlineMs)).map((m) => m.event);
}

/** Every message in the topic, summarised: key, event id, consumer, partition. */
export async function readWholeTopic(
  kafka: Kafka,
  topic: string,
  deadlineMs = 60_000,
): Promise<ReadMessage[]> {
  return (await readUsageMessages(kafka, topic, deadlineMs)).map((m) => ({
    key: m.key,
    id: m.event.id,
    consumerId: m.event.data.consumerId,
    partition: m.partition,
  }));
}
