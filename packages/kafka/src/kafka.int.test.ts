import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedStackEnv } from '../../../infra/testing/stack.ts';
import { createConsumer, createIdempotentProducer, createKafka, ensureTopics } from './client.ts';

const env = sharedStackEnv();
const kafka = createKafka({ brokers: env.KAFKA_BROKERS!.split(','), clientId: 'kafka-smoke-test' });
const topic = `tollgate.smoke.${randomUUID()}`;
const consumer = createConsumer(kafka, { groupId: `smoke-${randomUUID()}` });
const producer = createIdempotentProducer(kafka);

afterAll(async () => {
  await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
});

describe('kafka adapter against the real broker', () => {
  it('a message produced idempotently is consumed once through a consumer group', async () => {
    await ensureTopics(kafka, [{ topic, numPartitions: 2 }]);
    await ensureTopics(kafka, [{ topic, numPartitions: 2 }]); // provisioning is repeatable
    await producer.connect();
    const values = Array.from({ length: 20 }, (_, i) => `m-${i}`);
    await producer.send({
      topic,
      acks: -1,
      messages: values.map((value, i) => ({ key: `k${i % 3}`, value })),
    });

    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString());
          if (seen.length >= values.length) resolve();
        },
      });
    });
    await Promise.race([
      done,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`consumed ${seen.length}/20`)), 30_000)),
    ]);
    expect([...seen].sort()).toEqual([...values].sort());
  });
});
