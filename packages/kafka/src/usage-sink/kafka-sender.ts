import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import { createIdempotentProducer, KeyPartitions } from '../client.ts';
import { type CompressionName, compressionType } from '../compression.ts';
import type { SpoolChunk, SpoolLogger, SpoolPosition, UsageSpool } from './spool.ts';
import { usageRecords } from './usage-records.ts';

/**
 * The usage sink's sender: reads the spool in order, batches (up to `batchSize` events or
 * `lingerMs`), turns a batch into one record per partition (usage-records.ts) and sends it with
 * the idempotent producer (acks=all, one request in flight). Only after the broker acked a batch
 * does the spool move past it.
 *
 * - Kafka unreachable or a send failing: the SAME batch is retried with backoff (probing the
 *   topic's metadata until every partition has a leader), then the sender goes on in order. The
 *   same producer re-sends it with the same sequence numbers, so the broker discards a copy it
 *   already has: one copy per event across broker outages.
 * - A producer that keeps failing against a healthy broker (fenced, unknown producer id,
 *   out-of-order sequence) is replaced; its last batch may then be duplicated (at-least-once,
 *   the event id dedups downstream).
 * - Partitions: the sender picks each event's partition itself (murmur2 of the consumer id, the
 *   default partitioner's choice), from the topic's partition count, read with the metadata probe
 *   and refreshed every `metadataMaxAgeMs` and after a failed send.
 * - Counts every produce request the producer makes (kafkajs's request instrumentation): what
 *   the batching buys is visible in the metrics.
 */
export interface KafkaSenderOptions {
  kafka: Kafka;
  topic: string;
  spool: UsageSpool;
  batchSize: number;
  lingerMs: number;
  compression: CompressionName;
  retryInitialMs: number;
  retryMaxMs: number;
  producerRetries: number;
  metadataMaxAgeMs?: number;
  log: SpoolLogger;
  now: () => number;
}

export interface SenderStats {
  /** Events acknowledged by the broker. */
  sent: number;
  /** Of `sent`: events delivered late, after a failed attempt or left by a previous process. */
  replayed: number;
  /** Kafka records acknowledged (each a batch of events). */
  records: number;
  /** Bytes of the records' values (uncompressed). */
  recordBytes: number;
  /** Produce requests the producer completed (kafkajs's request instrumentation). */
  produceRequests: number;
  sendErrors: number;
  /** Events of the batch being sent. */
  inFlight: number;
  kafkaUp: boolean;
}

/** Consecutive failed sends against a healthy broker before the producer is replaced. */
const REPLACE_AFTER_FAILURES = 5;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class KafkaSender {
  private readonly opts: KafkaSenderOptions;
  private readonly spool: UsageSpool;
  private readonly metadataMaxAgeMs: number;
  private readonly keys = new KeyPartitions();
  private producer: Producer;
  private connected = false;
  private admin: Admin | null = null;
  private partitions = 0;
  private partitionsReadAt = Number.NEGATIVE_INFINITY;
  /** Consecutive failed sends while the broker's metadata looked healthy. */
  private failuresWhileReady = 0;
  /** End of the spool when Kafka came back: what was queued before it counts as replayed. */
  private replayUntil: SpoolPosition | null = null;
  private wakePending = false;
  private wakeResolve: (() => void) | null = null;
  private stopped = false;
  private done: Promise<void> = Promise.resolve();
  private readonly counters: SenderStats = {
    sent: 0,
    replayed: 0,
    records: 0,
    recordBytes: 0,
    produceRequests: 0,
    sendErrors: 0,
    inFlight: 0,
    kafkaUp: false,
  };

  constructor(opts: KafkaSenderOptions) {
    this.opts = opts;
    this.spool = opts.spool;
    this.metadataMaxAgeMs = opts.metadataMaxAgeMs ?? 60_000;
    this.producer = this.newProducer();
  }

  start(): void {
    this.done = this.run().catch((err: unknown) => {
      this.opts.log('error', 'usage sink: sender stopped on an unexpected error', { err: String(err) });
    });
  }

  stats(): SenderStats {
    return { ...this.counters };
  }

  /** The spool appended lines: wake the sender when a batch may be due. */
  onAppended(unreadBefore: number, unread: number): void {
    if (unreadBefore === 0 || (unreadBefore < this.opts.batchSize && unread >= this.opts.batchSize)) {
      this.wake();
    }
  }

  wake(): void {
    const resolve = this.wakeResolve;
    if (resolve !== null) {
      this.wakeResolve = null;
      resolve();
    } else {
      this.wakePending = true;
    }
  }

  /** Stops after the send in flight (waiting at most `graceMs` for it), then disconnects. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    this.wake();
    await Promise.race([this.done, sleep(graceMs)]);
    await Promise.allSettled([this.producer.disconnect(), this.admin?.disconnect()]);
  }

  private newProducer(): Producer {
    const producer = createIdempotentProducer(this.opts.kafka, { retries: this.opts.producerRetries });
    producer.on(producer.events.REQUEST, ({ payload }) => {
      if (payload.apiName === 'Produce') this.counters.produceRequests += 1;
    });
    return producer;
  }

  private waitForWake(timeoutMs: number | null): Promise<void> {
    if (this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.wakeResolve = () => {
        clearTimeout(timer);
        resolve();
      };
      if (timeoutMs !== null) {
        timer = setTimeout(() => {
          this.wakeResolve = null;
          resolve();
        }, timeoutMs);
      }
    });
  }

  /** The loop, restarted after an unexpected error (a spool read failing, say). */
  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.loop();
      } catch (err) {
        if (this.stopped) return;
        this.opts.log('error', 'usage sink: sender failed; restarting in 1 s', { err: String(err) });
        await sleep(1000);
      }
    }
  }

  private async loop(): Promise<void> {
    const { batchSize, lingerMs, now } = this.opts;
    while (!this.stopped) {
      const readable = await this.spool.prepare();
      if (readable === 'empty') {
        await this.waitForWake(null);
        continue;
      }
      // Linger: a partial batch of fresh events waits up to lingerMs for company.
      if (readable === 'active' && this.spool.unread() < batchSize && !this.spool.hasWaiters()) {
        const waited = now() - this.spool.firstUnreadAt();
        if (waited < lingerMs) {
          await this.waitForWake(lingerMs - waited);
          if (this.spool.unread() < batchSize && now() - this.spool.firstUnreadAt() < lingerMs) continue;
        }
      }
      if (this.stopped) return;
      const chunk = await this.spool.read(batchSize);
      if (chunk.records.length > 0) {
        this.counters.inFlight = chunk.records.length;
        const ok = await this.sendWithRetry(chunk);
        this.counters.inFlight = 0;
        if (!ok) return;
        this.counters.sent += chunk.records.length;
        if (this.late(chunk)) this.counters.replayed += chunk.records.length;
        else this.replayUntil = null;
      }
      this.spool.ack(chunk);
    }
  }

  private late(chunk: SpoolChunk): boolean {
    if (chunk.inherited) return true;
    const until = this.replayUntil;
    if (until === null) return false;
    return (
      chunk.start.seq < until.seq || (chunk.start.seq === until.seq && chunk.start.offset < until.offset)
    );
  }

  private async sendWithRetry(chunk: SpoolChunk): Promise<boolean> {
    let messages: Message[] | null = null;
    let builtFor = 0;
    let attempt = 0;
    for (;;) {
      if (this.stopped) return false;
      try {
        if (this.partitions === 0 || this.opts.now() - this.partitionsReadAt > this.metadataMaxAgeMs) {
          await this.readPartitions();
        }
        if (messages === null || builtFor !== this.partitions) {
          // The record values are copies: the chunk's views die with the next spool read.
          messages = usageRecords(chunk.records, this.partitions, this.keys);
          builtFor = this.partitions;
        }
        if (!this.connected) {
          await this.producer.connect();
          this.connected = true;
        }
        await this.producer.send({
          topic: this.opts.topic,
          acks: -1,
          compression: compressionType(this.opts.compression),
          messages,
        });
        this.counters.records += messages.length;
        for (const m of messages) this.counters.recordBytes += (m.value as Buffer).length;
        if (!this.counters.kafkaUp) {
          this.counters.kafkaUp = true;
          this.opts.log('info', 'usage sink: kafka reachable', { afterAttempts: attempt + 1 });
        }
        if (attempt > 0) this.replayUntil = this.spool.end();
        this.failuresWhileReady = 0;
        return true;
      } catch (err) {
        attempt += 1;
        this.counters.sendErrors += 1;
        if (this.counters.kafkaUp || attempt === 1) {
          this.opts.log('warn', 'usage sink: kafka send failed; spooling and retrying the same batch', {
            err: String(err),
            spoolDepth: this.spool.stats().spoolDepth,
          });
        }
        this.counters.kafkaUp = false;
        const wasReady = await this.waitUntilBrokerReady(attempt);
        if (wasReady) this.failuresWhileReady += 1;
        if (this.failuresWhileReady >= REPLACE_AFTER_FAILURES) await this.replaceProducer(err);
      }
    }
  }

  /**
   * A producer that keeps failing while the broker looks healthy is stuck: replace it. The new
   * producer id means the broker can no longer recognise a copy of the batch in flight, so this
   * one batch may be duplicated.
   */
  private async replaceProducer(err: unknown): Promise<void> {
    this.opts.log('error', 'usage sink: replacing a producer that keeps failing against a healthy broker', {
      err: String(err),
    });
    this.failuresWhileReady = 0;
    const old = this.producer;
    this.connected = false;
    this.producer = this.newProducer();
    await old.disconnect().catch((disconnectErr: unknown) => {
      this.opts.log('warn', 'usage sink: disconnecting the replaced producer failed', {
        err: String(disconnectErr),
      });
    });
  }

  /** The topic's partitions; true when every one has a leader. Throws when Kafka does not answer. */
  private async readPartitions(): Promise<boolean> {
    if (this.admin === null) {
      this.admin = this.opts.kafka.admin();
      await this.admin.connect();
    }
    try {
      const meta = await this.admin.fetchTopicMetadata({ topics: [this.opts.topic] });
      const parts = meta.topics[0]?.partitions ?? [];
      if (parts.length === 0) throw new Error(`usage topic ${this.opts.topic} has no partitions`);
      this.partitions = parts.length;
      this.partitionsReadAt = this.opts.now();
      return parts.every((p) => p.leader >= 0);
    } catch (err) {
      const admin = this.admin;
      this.admin = null;
      await admin?.disconnect().catch(() => {
        // The connection is being thrown away; its failure to close changes nothing.
      });
      throw err;
    }
  }

  /**
   * Backoff, then probe the topic's metadata until every partition has a leader. Returns true when
   * the first probe already found the broker healthy (the failure was not an outage).
   */
  private async waitUntilBrokerReady(attempt: number): Promise<boolean> {
    const { retryInitialMs, retryMaxMs } = this.opts;
    let delay = Math.min(retryMaxMs, retryInitialMs * 2 ** Math.min(attempt - 1, 10));
    for (let probe = 0; ; probe++) {
      await sleep(delay);
      if (this.stopped) return false;
      try {
        if (await this.readPartitions()) return probe === 0;
      } catch {
        // Unreachable: the next probe follows the backoff below.
      }
      delay = Math.min(retryMaxMs, delay * 2);
    }
  }
}
