import { randomUUID } from 'node:crypto';
import { type UsageEventV1, uuidv7 } from '@tollgate/core';
import type { Kafka, Message } from 'kafkajs';
import { createConsumer, KeyPartitions } from '../client.ts';
import { type CompressionName, compressionType } from '../compression.ts';
import {
  isUsageRecord,
  MAX_RECORD_VALUE_BYTES,
  USAGE_RECORD_HEADERS,
  usageRecordLines,
  usageRecordValue,
} from '../usage-topic/usage-record.ts';

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
  /** The record's key (null on the v2 topic: a record holds many consumers' events). */
  key: string | null;
  id: string;
  consumerId: string;
  partition: number;
}

export interface ReadUsageMessage {
  key: string | null;
  partition: number;
  /** Offset of the record that carried the event, and the event's line in it. */
  offset: string;
  line: number;
  event: UsageEventV1;
}

/**
 * Reads every usage event in the topic: the record total is exact (the sum of high watermarks,
 * taken when called: idempotent, non-transactional producers leave contiguous offsets), then a
 * consumer reads until every partition reached its watermark and splits each record into its
 * events (usage-topic/usage-record.ts). A record that is not a usage batch, or a line that is not
 * JSON, fails the read: the sink never writes one.
 */
export async function readUsageMessages(
  kafka: Kafka,
  topic: string,
  deadlineMs = 60_000,
): Promise<ReadUsageMessage[]> {
  // A consumer group's first join can hang for long after the broker restarted (a test that
  // stopped Kafka): a read that gets nothing in its attempt starts over with a new group.
  const until = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    const left = until - Date.now();
    try {
      return await readUsageMessagesOnce(kafka, topic, Math.min(left, 20_000 * attempt));
    } catch (err) {
      if (err instanceof ReadTimeout && Date.now() + 1000 < until) continue;
      throw err;
    }
  }
}

class ReadTimeout extends Error {}

async function readUsageMessagesOnce(
  kafka: Kafka,
  topic: string,
  deadlineMs: number,
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
        () => reject(new ReadTimeout(`read ${out.length} events of ${topic} before the deadline`)),
        deadlineMs,
      );
      const reached = new Map<number, number>();
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (!isUsageRecord(message.headers)) {
            clearTimeout(timer);
            reject(new Error(`record ${partition}/${message.offset} of ${topic} is not a usage batch`));
            return;
          }
          const value = message.value ?? Buffer.alloc(0);
          const lines = usageRecordLines(value);
          lines.forEach(({ start, end }, line) => {
            out.push({
              key: message.key === null ? null : message.key.toString(),
              partition,
              offset: message.offset,
              line,
              event: JSON.parse(value.toString('utf8', start, end)) as UsageEventV1,
            });
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

/** Every event in the topic, summarised: record key, event id, consumer, partition. */
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

/** A line of a test record: an event (serialized with JSON.stringify) or raw text as it stands. */
export type UsageLine = UsageEventV1 | { raw: string };

/**
 * Produces usage events the way the gateway's sink does (v2 records: NDJSON, the content-type
 * header, no key, the partition of each event's consumer), `eventsPerRecord` events per record,
 * one send per `recordsPerSend` records or MAX_RECORD_VALUE_BYTES of values, whichever comes
 * first (the broker refuses a record batch over `message.max.bytes`). A raw line goes to the partition of the event before it
 * (partition 0 if first). For tests and benchmarks.
 */
export async function produceUsageRecords(
  kafka: Kafka,
  topic: string,
  lines: readonly UsageLine[],
  opts: { eventsPerRecord?: number; recordsPerSend?: number; compression?: CompressionName } = {},
): Promise<{ records: number }> {
  const eventsPerRecord = opts.eventsPerRecord ?? 500;
  const recordsPerSend = opts.recordsPerSend ?? 20;
  const admin = kafka.admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  await admin.disconnect();
  const partitions = meta.topics[0]?.partitions.length ?? 0;
  if (partitions === 0) throw new Error(`topic ${topic} has no partitions`);
  const keys = new KeyPartitions();
  const open: string[][] = Array.from({ length: partitions }, () => []);
  const messages: Message[] = [];
  const cut = (partition: number) => {
    messages.push({
      partition,
      key: null,
      value: usageRecordValue(open[partition]!),
      headers: { ...USAGE_RECORD_HEADERS },
    });
    open[partition] = [];
  };
  let last = 0;
  for (const line of lines) {
    const partition = 'raw' in line ? last : keys.partitionOf(line.data.consumerId, partitions);
    last = partition;
    open[partition]!.push('raw' in line ? line.raw : JSON.stringify(line));
    if (open[partition]!.length >= eventsPerRecord) cut(partition);
  }
  for (let p = 0; p < partitions; p++) if (open[p]!.length > 0) cut(p);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    let send: Message[] = [];
    let bytes = 0;
    const flush = async () => {
      await producer.send({
        topic,
        acks: -1,
        compression: compressionType(opts.compression ?? 'none'),
        messages: send,
      });
      send = [];
      bytes = 0;
    };
    for (const message of messages) {
      const size = (message.value as Buffer).length;
      if (send.length > 0 && (send.length >= recordsPerSend || bytes + size > MAX_RECORD_VALUE_BYTES))
        await flush();
      send.push(message);
      bytes += size;
    }
    if (send.length > 0) await flush();
  } finally {
    await producer.disconnect();
  }
  return { records: messages.length };
}
