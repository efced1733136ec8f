import {
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type ICustomPartitioner,
  Kafka,
  type KafkaConfig,
  logLevel,
  Partitioners,
  type PartitionMetadata,
  type Producer,
} from 'kafkajs';
import './compression.ts';

/**
 * The only module that imports kafkajs. Apps get a small surface: a client, topic
 * provisioning, and producer/consumer factories with the settings our guarantees rely on.
 */
export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  /** kafkajs logs through console by default; quiet unless asked. */
  logLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Retries kafkajs itself makes before surfacing an error. */
  retries?: number;
}

const LOG_LEVELS = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
} as const;

export function createKafka(opts: KafkaOptions): Kafka {
  const config: KafkaConfig = {
    brokers: opts.brokers,
    clientId: opts.clientId,
    logLevel: LOG_LEVELS[opts.logLevel ?? 'nothing'],
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    requestTimeout: opts.requestTimeoutMs ?? 10_000,
    retry: { retries: opts.retries ?? 5, initialRetryTime: 100, maxRetryTime: 2000 },
  };
  return new Kafka(config);
}

export interface TopicSpec {
  topic: string;
  numPartitions?: number;
  replicationFactor?: number;
  configEntries?: { name: string; value: string }[];
}

/** Creates missing topics and waits until their leaders are known. Safe to call repeatedly. */
export async function ensureTopics(kafka: Kafka, topics: TopicSpec[]): Promise<void> {
  const admin: Admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.numPartitions ?? 3,
          replicationFactor: t.replicationFactor ?? 1,
          ...(t.configEntries === undefined ? {} : { configEntries: t.configEntries }),
        })),
      });
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Idempotent producer (acks=all, one request in flight, as kafkajs requires for idempotence).
 * kafkajs keeps nothing across outages: callers buffer and retry what fails.
 */
export function createIdempotentProducer(kafka: Kafka, opts: { retries?: number } = {}): Producer {
  return kafka.producer({
    createPartitioner: memoizedKeyPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // kafkajs retries an idempotent send forever by default. A caller that re-sends the very same
    // batch itself (KafkaUsageSink) limits this, so a send during an outage fails and can be
    // observed; the re-send reuses the same sequence numbers, so the broker still de-duplicates.
    ...(opts.retries === undefined ? {} : { retry: { retries: opts.retries } }),
  });
}

/** Keys remembered per topic before the memo starts over (the gateway keys by consumer id). */
const PARTITION_MEMO_MAX = 100_000;

/**
 * kafkajs's DefaultPartitioner (murmur2 of the key, Java-client compatible), remembered per key
 * and partition count. The default recomputes murmur2 in JS and filters the partition list for
 * every message: about 5% of the busy samples in a CPU profile of the sink at 7,000 events/s,
 * for an answer that only changes when the topic gains partitions.
 */
export const memoizedKeyPartitioner: ICustomPartitioner = () => {
  const partitionerOf = Partitioners.DefaultPartitioner();
  const memo = new Map<string, { partitions: number; byKey: Map<string, number> }>();
  return (args) => {
    const { topic, partitionMetadata, message } = args;
    const key = message.key;
    if (typeof key !== 'string' || (message.partition !== undefined && message.partition !== null)) {
      return partitionerOf(args);
    }
    let m = memo.get(topic);
    if (m === undefined || m.partitions !== partitionMetadata.length || m.byKey.size >= PARTITION_MEMO_MAX) {
      m = { partitions: partitionMetadata.length, byKey: new Map() };
      memo.set(topic, m);
    }
    let partition = m.byKey.get(key);
    if (partition === undefined) {
      partition = partitionerOf(args);
      m.byKey.set(key, partition);
    }
    return partition;
  };
};

/**
 * The partition kafkajs's DefaultPartitioner (murmur2, Java-compatible) gives `key` among
 * `partitions`, remembered per key. For producers that choose partitions themselves (the usage
 * sink puts many consumers' events in one record per partition).
 */
export class KeyPartitions {
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private byKey = new Map<string, number>();
  private partitions = 0;
  private metadata: PartitionMetadata[] = [];

  partitionOf(key: string, partitions: number): number {
    if (partitions !== this.partitions || this.byKey.size >= PARTITION_MEMO_MAX) {
      this.byKey = new Map();
      this.partitions = partitions;
      this.metadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        leader: 0,
        replicas: [0],
        isr: [0],
        offlineReplicas: [],
        partitionErrorCode: 0,
      }));
    }
    let partition = this.byKey.get(key);
    if (partition === undefined) {
      partition = this.partitioner({
        topic: '',
        partitionMetadata: this.metadata,
        message: { key, value: null },
      });
      this.byKey.set(key, partition);
    }
    return partition;
  }
}

export function createConsumer(kafka: Kafka, config: ConsumerConfig): Consumer {
  return kafka.consumer({ allowAutoTopicCreation: false, ...config });
}

export type {
  Admin,
  Consumer,
  EachBatchPayload,
  EachMessagePayload,
  IHeaders,
  Kafka,
  KafkaMessage,
  Message,
  Producer,
} from 'kafkajs';
export { CompressionTypes } from 'kafkajs';
