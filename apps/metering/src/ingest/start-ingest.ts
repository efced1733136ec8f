import type { SqlRunner } from '@tollgate/clickhouse';
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
import { type DecodedChunk, decodeUsageBatch } from './decode-usage-records.ts';
import { USAGE_EVENT_COLUMNS } from './event-row.ts';
import { createInsertCoalescer } from './insert-coalescer.ts';

/**
 * Kafka -> ClickHouse, effectively once.
 *
 * - Records: usage topic v2, many events per record (packages/kafka usage-topic/usage-record.ts);
 *   a record becomes rows (decode-usage-records.ts), built as TabSeparated text and inserted as
 *   one byte stream, never as objects serialized again.
 * - Batching: by size and time at the fetch (the broker answers once `fetchMinBytes` have
 *   accumulated or after `batchMaxWaitMs`, at most `fetchMaxBytesPerPartition`), and about
 *   `batchMaxRows` events per insert (whole records: a record is never split across inserts).
 *   Partitions are processed concurrently and the rows of partitions fetched together go into
 *   one insert (insert-coalescer.ts).
 * - At least once into ClickHouse: an offset is resolved and committed only after the insert
 *   holding its event returned (and its dead letters were acknowledged by Kafka). A crash
 *   between insert and commit redelivers the batch; usage_events_v1 is a ReplacingMergeTree
 *   keyed by event id and every exact query deduplicates by event id, so a redelivered event
 *   never changes a total: effectively once.
 * - Rebalance: no offset is resolved or committed for a partition that was sought or taken
 *   away while its batch was in flight (`isStale`), and no new batch starts once the consumer
 *   is stopping. The broker also rejects commits from an old group generation.
 * - Malformed events (not JSON, wrong schema, unknown version, values the table cannot hold)
 *   go to the dead-letter topic one by one, each alone with the reason in the
 *   `tollgate-dead-letter-reason` header and its source topic, partition, offset and index in
 *   the record; every other event of the record is stored and the partition keeps flowing. A
 *   record that is not a usage batch at all is one dead letter.
 * - ClickHouse (or the dead-letter producer) failing: nothing of the batch is resolved, the
 *   partition is paused, and resumed after an exponential backoff; kafkajs then fetches again
 *   from the last resolved offset. No loss, no crash loop, other partitions unaffected.
 * - Shutdown (`stop`): no new batch starts; the one in flight finishes its insert and commits;
 *   then the consumer leaves the group. Offsets are committed explicitly (autoCommit off), so
 *   nothing that was not stored is ever committed.
 */
export { DEAD_LETTER_REASON_HEADER } from './decode-usage-records.ts';

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
  /** Called when kafkajs hands over a fetched batch, before any of it is decoded (bench/metering times from it). */
  onFetched?: (batch: { topic: string; partition: number; records: number }) => void;
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
  /** Events left out because their id was already in the same insert (stored once). */
  duplicates: number;
  consumerIds: Set<string>;
}

export interface IngestStatus {
  running: boolean;
  /** Partitions waiting out a backoff after a failed insert, as `topic:partition`. */
  pausedPartitions: string[];
  lastError: string | null;
  storedRows: number;
  deadLetters: number;
  /** Events left out of an insert that already held their id. */
  duplicateEvents: number;
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

  const inserts = createInsertCoalescer<string>(
    (rows) => opts.store.insertTabSeparated('usage_events_v1', USAGE_EVENT_COLUMNS, rows),
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
    duplicateEvents: 0,
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

  /** Sends a chunk's dead letters, inserts its rows; 'failed' once its partition is paused. */
  async function storeChunk(payload: EachBatchPayload, chunk: DecodedChunk): Promise<StoredBatch | 'failed'> {
    const { batch } = payload;
    const { decoded } = chunk;
    try {
      // Dead letters first: an offset is committed only once they are acknowledged too.
      if (decoded.deadLetters.length > 0) {
        await producer.send({ topic: opts.deadLetterTopic, messages: decoded.deadLetters });
      }
      if (decoded.rows.length > 0) await inserts.submit(decoded.rows);
    } catch (err) {
      backOff(`${batch.topic}:${batch.partition}`, payload.pause, err);
      return 'failed';
    }
    return {
      topic: batch.topic,
      partition: batch.partition,
      lastOffset: chunk.lastOffset,
      rows: decoded.rows.length,
      deadLetters: decoded.deadLetters.length,
      duplicates: decoded.duplicates,
      consumerIds: decoded.consumerIds,
    };
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    opts.onFetched?.({ topic: batch.topic, partition: batch.partition, records: batch.messages.length });
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
    // Chunks of about batchMaxRows events; the next one is decoded while this one is stored
    // (only decoded: it is stored, and its offsets committed, after this one's).
    const chunks = decodeUsageBatch(batch, opts.batchMaxRows);
    let next = await chunks.next();
    while (!next.done) {
      // A partition waiting out a backoff ignores batches fetched before it was paused.
      if (blocked.has(tp) || !isRunning() || isStale()) return;
      const storing = storeChunk(payload, next.value);
      const [stored, following] = await Promise.all([storing, chunks.next()]);
      next = following;
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
      state.duplicateEvents += stored.duplicates;
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
