import type { SqlRunner } from '@tollgate/clickhouse';
import { parseUsageEvent } from '@tollgate/core';
import {
  type Consumer,
  createConsumer,
  createIdempotentProducer,
  type EachBatchPayload,
  type Kafka,
  type Producer,
} from '@tollgate/kafka';
import type { Log } from '../log.ts';
import { backoffDelay } from './backoff.ts';
import { toUsageEventRow, type UsageEventRow } from './event-row.ts';
import { createInsertCoalescer } from './insert-coalescer.ts';

/**
 * Kafka -> ClickHouse, effectively once.
 *
 * - Batching: by size and time at the fetch (the broker answers once `fetchMinBytes` have
 *   accumulated or after `batchMaxWaitMs`, at most `fetchMaxBytesPerPartition`), and about
 *   `batchMaxRows` rows per insert. Partitions are processed concurrently and the rows of
 *   partitions fetched together go into one insert (insert-coalescer.ts).
 * - At least once into ClickHouse: an offset is resolved and committed only after the insert
 *   holding its event returned (and its dead letters were acknowledged by Kafka). A crash
 *   between insert and commit redelivers the batch; usage_events_v1 is a ReplacingMergeTree
 *   keyed by event id and every exact query deduplicates by event id, so a redelivered event
 *   never changes a total: effectively once.
 * - Rebalance: no offset is resolved or committed for a partition that was sought or taken
 *   away while its batch was in flight (`isStale`), and no new batch starts once the consumer
 *   is stopping. The broker also rejects commits from an old group generation.
 * - Poison messages (not JSON, wrong schema, unknown version, values the table cannot hold)
 *   go to the dead-letter topic with the reason in the `tollgate-dead-letter-reason` header;
 *   the rest of the batch is stored and the partition keeps flowing.
 * - ClickHouse (or the dead-letter producer) failing: nothing of the batch is resolved, the
 *   partition is paused, and resumed after an exponential backoff; kafkajs then fetches again
 *   from the last resolved offset. No loss, no crash loop, other partitions unaffected.
 * - Shutdown (`stop`): no new batch starts; the one in flight finishes its insert and commits;
 *   then the consumer leaves the group. Offsets are committed explicitly (autoCommit off), so
 *   nothing that was not stored is ever committed.
 */
export const DEAD_LETTER_REASON_HEADER = 'tollgate-dead-letter-reason';

export interface IngestOptions {
  kafka: Kafka;
  store: SqlRunner;
  log: Log;
  topic: string;
  deadLetterTopic: string;
  groupId: string;
  batchMaxRows: number;
  batchMaxWaitMs: number;
  fetchMinBytes: number;
  fetchMaxBytesPerPartition: number;
  partitionsConcurrently: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Called after a batch was stored and committed, with the consumers it touched (alerts). */
  onStored?: (batch: StoredBatch) => void;
  /** Called when a batch could not be stored and its partition was paused (metrics). */
  onFailure?: (failure: { partition: string; error: unknown; retryInMs: number }) => void;
  /**
   * Test seam: runs after a batch's insert returned and before its offsets are committed.
   * The acceptance test kills the process here to prove a crash in that window is harmless.
   */
  afterInsert?: (batch: StoredBatch) => Promise<void> | void;
}

export interface StoredBatch {
  topic: string;
  partition: number;
  /** Offset of the batch's last message. */
  lastOffset: string;
  rows: number;
  deadLetters: number;
  consumerIds: Set<string>;
}

export interface IngestStatus {
  running: boolean;
  /** Partitions waiting out a backoff after a failed insert, as `topic:partition`. */
  pausedPartitions: string[];
  lastError: string | null;
  storedRows: number;
  deadLetters: number;
  lastStoredAt: Date | null;
}

export interface Ingest {
  status(): IngestStatus;
  stop(): Promise<void>;
}

export async function startIngest(opts: IngestOptions): Promise<Ingest> {
  const consumer: Consumer = createConsumer(opts.kafka, {
    groupId: opts.groupId,
    minBytes: opts.fetchMinBytes,
    maxWaitTimeInMs: opts.batchMaxWaitMs,
    maxBytesPerPartition: opts.fetchMaxBytesPerPartition,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    retry: {
      retries: 8,
      // Kafka errors that escape eachBatch (commit failures, lost coordinator): restart the
      // consumer rather than leave metering silently stopped.
      restartOnFailure: async (err) => {
        opts.log.error({ err }, 'ingest consumer failed: restarting');
        return true;
      },
    },
  });
  // Bounded retries: a dead-letter send during an outage fails, and the batch backs off like a failed insert.
  const producer: Producer = createIdempotentProducer(opts.kafka, { retries: 5 });

  const inserts = createInsertCoalescer<UsageEventRow>(
    (rows) => opts.store.insert('usage_events_v1', rows),
    opts.batchMaxRows,
  );
  const failures = new Map<string, number>();
  const blocked = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const state: IngestStatus = {
    running: false,
    pausedPartitions: [],
    lastError: null,
    storedRows: 0,
    deadLetters: 0,
    lastStoredAt: null,
  };

  function backOff(tp: string, pause: () => () => void, err: unknown): void {
    const attempt = (failures.get(tp) ?? 0) + 1;
    failures.set(tp, attempt);
    const delay = backoffDelay(attempt, opts.retryInitialMs, opts.retryMaxMs);
    state.lastError = err instanceof Error ? err.message : String(err);
    opts.log.warn(
      { err, partition: tp, attempt, retryInMs: delay },
      'storing a batch failed: partition paused',
    );
    blocked.add(tp);
    opts.onFailure?.({ partition: tp, error: err, retryInMs: delay });
    const resume = pause();
    const timer = setTimeout(() => {
      timers.delete(timer);
      blocked.delete(tp);
      resume();
    }, delay);
    timers.add(timer);
  }

  async function processChunk(
    payload: EachBatchPayload,
    messages: EachBatchPayload['batch']['messages'],
  ): Promise<StoredBatch | 'failed'> {
    const { batch } = payload;
    const tp = `${batch.topic}:${batch.partition}`;
    const ingestedAt = new Date();
    const rows: UsageEventRow[] = [];
    const dead: { message: (typeof messages)[number]; reason: string }[] = [];
    const consumerIds = new Set<string>();
    for (const message of messages) {
      if (message.value === null || message.value.length === 0) {
        dead.push({ message, reason: 'empty message value' });
        continue;
      }
      const parsed = parseUsageEvent(message.value);
      if (!parsed.ok) {
        dead.push({ message, reason: parsed.reason });
        continue;
      }
      const mapped = toUsageEventRow(parsed.event, ingestedAt);
      if (!mapped.ok) {
        dead.push({ message, reason: mapped.reason });
        continue;
      }
      rows.push(mapped.row);
      consumerIds.add(mapped.row.consumer_id);
    }
    try {
      if (dead.length > 0) {
        await producer.send({
          topic: opts.deadLetterTopic,
          messages: dead.map(({ message, reason }) => ({
            key: message.key,
            value: message.value,
            headers: {
              ...message.headers,
              [DEAD_LETTER_REASON_HEADER]: reason,
              'tollgate-source-topic': batch.topic,
              'tollgate-source-partition': String(batch.partition),
              'tollgate-source-offset': message.offset,
            },
          })),
        });
      }
      if (rows.length > 0) await inserts.submit(rows);
    } catch (err) {
      backOff(tp, payload.pause, err);
      return 'failed';
    }
    return {
      topic: batch.topic,
      partition: batch.partition,
      lastOffset: messages[messages.length - 1]!.offset,
      rows: rows.length,
      deadLetters: dead.length,
      consumerIds,
    };
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const release = inserts.enter();
    try {
      await processBatch(payload);
    } finally {
      release();
    }
  }

  async function processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale, resolveOffset, commitOffsetsIfNecessary, heartbeat } = payload;
    const tp = `${batch.topic}:${batch.partition}`;
    for (let i = 0; i < batch.messages.length; i += opts.batchMaxRows) {
      // A partition waiting out a backoff ignores batches fetched before it was paused.
      if (blocked.has(tp) || !isRunning() || isStale()) return;
      const chunk = batch.messages.slice(i, i + opts.batchMaxRows);
      const stored = await processChunk(payload, chunk);
      if (stored === 'failed') return;
      await opts.afterInsert?.(stored);
      // Taken away or sought while we inserted: its next owner re-reads these; copies collapse.
      if (isStale()) return;
      resolveOffset(stored.lastOffset);
      await commitOffsetsIfNecessary({
        topics: [
          {
            topic: batch.topic,
            partitions: [{ partition: batch.partition, offset: (BigInt(stored.lastOffset) + 1n).toString() }],
          },
        ],
      });
      failures.delete(tp);
      state.storedRows += stored.rows;
      state.deadLetters += stored.deadLetters;
      state.lastStoredAt = new Date();
      state.lastError = null;
      if (stored.deadLetters > 0) {
        opts.log.warn({ partition: tp, deadLetters: stored.deadLetters }, 'malformed events dead-lettered');
      }
      opts.onStored?.(stored);
      await heartbeat();
    }
  }

  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [opts.topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: opts.partitionsConcurrently,
    eachBatch,
  });
  state.running = true;

  let stopping: Promise<void> | null = null;
  return {
    status: () => ({ ...state, pausedPartitions: [...blocked].sort() }),
    stop() {
      stopping ??= (async () => {
        state.running = false;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        // disconnect() waits for the batch in flight, which commits what it stored.
        await consumer.disconnect();
        await producer.disconnect();
      })();
      return stopping;
    },
  };
}
