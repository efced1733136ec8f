import { USAGE_TOPIC_V2, type UsageEventSink, type UsageEventV1 } from '@tollgate/core';
import type { Kafka } from 'kafkajs';
import type { CompressionName } from '../compression.ts';
import { KafkaSender } from './kafka-sender.ts';
import { type DropReason, type SpoolLogger, UsageSpool, type UsageSpoolOptions } from './spool.ts';
import { usageEventJson } from './usage-event-json.ts';

/**
 * KafkaUsageSink: the gateway's usage events to Kafka `tollgate.usage.v2`, through a local
 * write-ahead spool. Two parts, split where the guarantees split:
 *
 * - spool.ts (UsageSpool, no Kafka in it): `publish()` serializes the event once
 *   (usage-event-json.ts) and appends it; segments, lock, fsync, the committed position, replay
 *   after a restart, the memory and disk bounds. Its module comment states the durability
 *   guarantees (SIGKILL, OS crash).
 * - kafka-sender.ts (KafkaSender): reads the spool in order, batches, sends one record per
 *   partition per produce request (the topic's format: usage-topic/usage-record.ts) with the
 *   idempotent producer, retries the same batch through outages, replaces a stuck producer.
 *
 * Guarantees of the whole:
 * - publish() is O(1), synchronous, never awaits, never does I/O (in 'async' write mode), never
 *   throws.
 * - Kafka unreachable: publish() does not notice; the spool grows up to `maxSpoolBytes` and is
 *   sent in order once Kafka is back. The spool is the WAL in normal operation and in an outage
 *   alike: one code path, nothing special on failover.
 * - Exactly one copy per event in normal operation and across broker outages (same idempotent
 *   producer re-sending the same batch); at-least-once across a gateway crash (events acked but not
 *   yet recorded in `committed` are sent again) and a replaced producer. The event id (UUIDv7) is
 *   the dedup key downstream.
 * - flush(): every event accepted so far is written and fdatasync'ed, whether or not Kafka is up.
 *   drain(ms): waits until the broker acked everything accepted so far. close(): stops accepting
 *   (call it after the HTTP server stopped), drains within a deadline, fsyncs, and leaves the rest
 *   in the spool for the next process.
 * - One sink per spool directory (a lock file holds the owner's pid); one directory per process.
 */

export type SinkLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type SinkLogger = SpoolLogger;
export type { DropReason };

/** The spool's own settings, passed through (UsageSpoolOptions documents each). */
type SpoolSettings = Pick<
  UsageSpoolOptions,
  | 'fsyncIntervalMs'
  | 'writeMode'
  | 'writeDelayMs'
  | 'maxPendingEvents'
  | 'segmentBytes'
  | 'maxSpoolBytes'
  | 'readBufferBytes'
>;

export interface KafkaUsageSinkOptions extends SpoolSettings {
  /** A client from `createKafka`. The sink makes its own producer (and an admin for probes). */
  kafka: Kafka;
  /** Directory of the spool; created if missing. One sink (one process) per directory. */
  spoolDir: string;
  /** Default USAGE_TOPIC_V2; tests use a unique topic. */
  topic?: string;
  /** Most events per send (all partitions together). Default 2000. */
  batchSize?: number;
  /**
   * Longest an event waits for its batch to fill, in ms. Default 50: a send has a fixed cost
   * (in the producer and as a produce request), so fuller batches cost less per event.
   */
  lingerMs?: number;
  /** Record compression. Default 'zstd' (compression.ts says why). */
  compression?: CompressionName;
  /** Backoff between attempts while Kafka is unreachable, in ms. Default 100 → 2000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Retries kafkajs makes inside one send before the sink's own backoff loop. Default 2. */
  producerRetries?: number;
  log?: SinkLogger;
  dropLogIntervalMs?: number;
  /** Clock for log throttling and linger; tests may inject. */
  now?: () => number;
}

export interface UsageSinkStats {
  /** publish() calls. */
  published: number;
  /** Events appended to the spool (all accepted events: the spool is the WAL). */
  spooled: number;
  /** Events acknowledged by the broker. */
  sent: number;
  /** Of `sent`: events delivered late, after a failed attempt or left by a previous process. */
  replayed: number;
  dropped: number;
  droppedByReason: Record<DropReason, number>;
  /** Spool lines skipped because torn or corrupt. */
  corrupt: number;
  /** Bytes in the spool's segment files. */
  spoolBytes: number;
  /** Events in the spool not yet acked by the broker. */
  spoolDepth: number;
  /** Events held in memory: lines waiting for their write, plus the sender's batch. */
  inMemory: number;
  sendErrors: number;
  /** Kafka records acknowledged (each a batch of events), and their values' bytes (uncompressed). */
  records: number;
  recordBytes: number;
  /** Produce requests made to Kafka (each one send of one batch to one broker). */
  produceRequests: number;
  kafkaUp: boolean;
}

export class KafkaUsageSink implements UsageEventSink {
  private readonly spool: UsageSpool;
  private readonly sender: KafkaSender;
  private readonly log: SinkLogger;
  private published = 0;
  private closing = false;

  private constructor(opts: KafkaUsageSinkOptions) {
    const now = opts.now ?? Date.now;
    const given = opts.log;
    // A throwing logger must not break publish() or the sender.
    const log: SinkLogger = (level, msg, fields) => {
      try {
        given?.(level, msg, fields);
      } catch {
        // The logger's own failure has nowhere else to go.
      }
    };
    this.log = log;
    const batchSize = opts.batchSize ?? 2000;
    this.spool = UsageSpool.open({
      dir: opts.spoolDir,
      ...(opts.fsyncIntervalMs === undefined ? {} : { fsyncIntervalMs: opts.fsyncIntervalMs }),
      ...(opts.writeMode === undefined ? {} : { writeMode: opts.writeMode }),
      ...(opts.writeDelayMs === undefined ? {} : { writeDelayMs: opts.writeDelayMs }),
      ...(opts.maxPendingEvents === undefined ? {} : { maxPendingEvents: opts.maxPendingEvents }),
      ...(opts.segmentBytes === undefined ? {} : { segmentBytes: opts.segmentBytes }),
      ...(opts.maxSpoolBytes === undefined ? {} : { maxSpoolBytes: opts.maxSpoolBytes }),
      ...(opts.readBufferBytes === undefined ? {} : { readBufferBytes: opts.readBufferBytes }),
      ...(opts.dropLogIntervalMs === undefined ? {} : { dropLogIntervalMs: opts.dropLogIntervalMs }),
      onAppend: (before, unread) => this.sender.onAppended(before, unread),
      log,
      now,
    });
    this.sender = new KafkaSender({
      kafka: opts.kafka,
      topic: opts.topic ?? USAGE_TOPIC_V2,
      spool: this.spool,
      batchSize,
      lingerMs: opts.lingerMs ?? 50,
      compression: opts.compression ?? 'zstd',
      retryInitialMs: opts.retryInitialMs ?? 100,
      retryMaxMs: opts.retryMaxMs ?? 2000,
      producerRetries: opts.producerRetries ?? 2,
      log,
      now,
    });
  }

  /**
   * Opens the spool (replaying whatever a previous process left) and starts the background
   * sender. Does not wait for Kafka: the gateway can start, and publish, while Kafka is down.
   */
  static open(opts: KafkaUsageSinkOptions): KafkaUsageSink {
    const sink = new KafkaUsageSink(opts);
    sink.sender.start();
    return sink;
  }

  /** The request path: serialize once, append to the spool. */
  publish(event: UsageEventV1): void {
    this.published += 1;
    if (this.closing) {
      this.spool.drop('closed');
      return;
    }
    let json: string;
    try {
      json = usageEventJson(event);
    } catch (err) {
      this.spool.drop('serialize', err);
      return;
    }
    this.spool.append(json);
  }

  stats(): UsageSinkStats {
    const spool = this.spool.stats();
    const sender = this.sender.stats();
    return {
      published: this.published,
      spooled: spool.spooled,
      sent: sender.sent,
      replayed: sender.replayed,
      dropped: spool.dropped,
      droppedByReason: spool.droppedByReason,
      corrupt: spool.corrupt,
      spoolBytes: spool.spoolBytes,
      spoolDepth: spool.spoolDepth,
      inMemory: spool.pending + sender.inFlight,
      sendErrors: sender.sendErrors,
      records: sender.records,
      recordBytes: sender.recordBytes,
      produceRequests: sender.produceRequests,
      kafkaUp: sender.kafkaUp,
    };
  }

  /** Every event accepted so far is in the spool and fdatasync'ed. Does not wait for Kafka. */
  flush(): Promise<void> {
    return this.spool.flush();
  }

  /** Resolves true once the broker acked every event accepted before the call; false at the deadline. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let writesTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.spool.waitForWrites(),
      new Promise((resolve) => {
        writesTimer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(writesTimer);
    const acked = this.spool.waitForAck(this.spool.end(), Math.max(0, deadline - Date.now()));
    this.sender.wake();
    return acked;
  }

  /** Stops accepting (later publishes are dropped as 'closed'), drains within the deadline, fsyncs. */
  async close(opts: { deadlineMs?: number } = {}): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.spool.stopAccepting();
    const drained = await this.drain(opts.deadlineMs ?? 5000);
    // Nothing new can be queued now; never close the files under a write in flight.
    await this.spool.waitForWrites();
    // The sender may be inside a send that cannot be cancelled; give it a moment, not forever.
    await this.sender.stop(drained ? 1000 : 100);
    await this.spool.close();
    this.log(drained ? 'info' : 'warn', 'usage sink closed', { ...this.stats(), drained });
  }
}
