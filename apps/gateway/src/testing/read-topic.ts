import { randomUUID } from 'node:crypto';
import type { UsageEventV1 } from '@tollgate/core';
import type { createKafka } from '@tollgate/kafka';
import { createConsumer } from '@tollgate/kafka';

type Kafka = ReturnType<typeof createKafka>;

/** Reads every usage event in a topic up to the high watermarks taken when called. */
export async function readUsageTopic(
  kafka: Kafka,
  topic: string,
  deadlineMs = 60_000,
): Promise<UsageEventV1[]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const high = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  const out: UsageEventV1[] = [];
  if (total === 0) return out;
  const consumer = createConsumer(kafka, { groupId: `gw-read-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${out.length}/${total} events of ${topic}`)),
        deadlineMs,
      );
      const reached = new Map<number, number>();
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          out.push(JSON.parse(message.value!.toString()) as UsageEventV1);
          reached.set(partition, Number(message.offset) + 1);
          if ([...high].every(([p, h]) => h === 0 || (reached.get(p) ?? 0) >= h)) {
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
