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

/**
 * Reads every message in the topic: the total is exact (the sum of high watermarks, taken when
 * called: idempotent, non-transactional producers leave contiguous offsets), then a consumer
 * reads until every partition reached its watermark.
 */
export async function readWholeTopic(
  kafka: Kafka,
  topic: string,
  deadlineMs = 60_000,
): Promise<ReadMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const high = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  const out: ReadMessage[] = [];
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
          const value = JSON.parse(message.value!.toString()) as UsageEventV1;
          out.push({
            key: message.key === null ? null : message.key.toString(),
            id: value.id,
            consumerId: value.data.consumerId,
            partition,
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
