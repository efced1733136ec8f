import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { isUsageRecord, usageRecordLines } from '@tollgate/kafka';
import { decodeUsageLine } from './decode-usage-line.ts';
import { clickhouseDateTime } from './event-row.ts';

/**
 * Kafka records of the usage topic (v2: many events per record, the format of packages/kafka
 * `usage-topic/usage-record.ts`) → ClickHouse rows and dead letters.
 *
 * - Each line is decoded alone: a malformed event (not JSON, wrong schema, unknown version, a
 *   value the table cannot hold) becomes one dead letter, with its reason, and every other event
 *   of the record is stored.
 * - A record that is not a usage batch (no or another content-type, empty) is one dead letter.
 * - An event id seen earlier in the same batch is skipped: the batch's insert holds each event
 *   once (copies from a replay in other batches collapse in ClickHouse, keyed by event id).
 */
export const DEAD_LETTER_REASON_HEADER = 'tollgate-dead-letter-reason';
/** 0-based index of a dead-lettered event among the events of its record. */
export const DEAD_LETTER_INDEX_HEADER = 'tollgate-source-index';

export interface UsageRecordMessage {
  key: Buffer | null;
  value: Buffer | null;
  offset: string;
  headers?: Record<string, unknown>;
}

export interface DeadLetter {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string | Buffer>;
}

/** Accumulates the rows of one insert and the dead letters that go with it. */
export interface DecodedBatch {
  /** TabSeparated lines of usage_events_v1 (columns USAGE_EVENT_COLUMNS). */
  rows: string[];
  deadLetters: DeadLetter[];
  consumerIds: Set<string>;
  /** Event ids of `rows` (dedup within the batch). */
  ids: Set<string>;
  /** Events skipped because their id was already in the batch. */
  duplicates: number;
}

export function emptyBatch(): DecodedBatch {
  return { rows: [], deadLetters: [], consumerIds: new Set(), ids: new Set(), duplicates: 0 };
}

function deadLetter(
  source: { topic: string; partition: number; message: UsageRecordMessage },
  value: Buffer | null,
  reason: string,
  line?: number,
): DeadLetter {
  const headers: Record<string, string | Buffer> = {};
  for (const [k, v] of Object.entries(source.message.headers ?? {})) {
    if (typeof v === 'string' || Buffer.isBuffer(v)) headers[k] = v;
  }
  headers[DEAD_LETTER_REASON_HEADER] = reason;
  headers['tollgate-source-topic'] = source.topic;
  headers['tollgate-source-partition'] = String(source.partition);
  headers['tollgate-source-offset'] = source.message.offset;
  if (line !== undefined) headers[DEAD_LETTER_INDEX_HEADER] = String(line);
  return { key: source.message.key, value, headers };
}

/**
 * Decodes one record into `into`. `ingestedAt`: the rows' ingested_at (ClickHouse DateTime text).
 * A dead letter of one event carries that line alone as its value (plus `tollgate-source-index`,
 * its 0-based index among the record's events).
 */
export function decodeUsageRecord(
  topic: string,
  partition: number,
  message: UsageRecordMessage,
  ingestedAt: string,
  into: DecodedBatch,
): void {
  const source = { topic, partition, message };
  const value = message.value;
  if (!isUsageRecord(message.headers)) {
    into.deadLetters.push(deadLetter(source, value, 'not a usage batch: missing or unknown content-type'));
    return;
  }
  if (value === null || value.length === 0) {
    into.deadLetters.push(deadLetter(source, value, 'empty message value'));
    return;
  }
  const lines = usageRecordLines(value);
  if (lines.length === 0) {
    into.deadLetters.push(deadLetter(source, value, 'no events in the record'));
    return;
  }
  for (let i = 0; i < lines.length; i++) {
    const { start, end } = lines[i]!;
    const row = decodeUsageLine(value.toString('utf8', start, end), ingestedAt);
    if (!row.ok) {
      into.deadLetters.push(deadLetter(source, value.subarray(start, end), row.reason, i));
      continue;
    }
    if (into.ids.has(row.id)) {
      into.duplicates += 1;
      continue;
    }
    into.ids.add(row.id);
    into.rows.push(row.line);
    into.consumerIds.add(row.consumerId);
  }
}

export interface DecodedChunk {
  decoded: DecodedBatch;
  /** Offset of the chunk's last record: committed (plus one) once the chunk is stored. */
  lastOffset: string;
}

/** Events decoded between two yields to the event loop (about a millisecond of work). */
const EVENTS_PER_SLICE = 200;

/**
 * A fetched batch as chunks of whole records holding about `maxEvents` events each, decoded
 * lazily (each chunk when asked for, with its own ingested_at) and in slices that yield to the
 * event loop: the next chunk is decoded while the previous one's insert is on the wire, and a
 * large fetch never stalls the loop. A chunk of records that held no event to store
 * (duplicates, empty lines) still comes out: its offsets must be committed.
 */
export async function* decodeUsageBatch(
  batch: { topic: string; partition: number; messages: readonly UsageRecordMessage[] },
  maxEvents: number,
): AsyncGenerator<DecodedChunk> {
  let decoded = emptyBatch();
  let ingestedAt = clickhouseDateTime(new Date());
  let lastOffset: string | null = null;
  let sinceYield = 0;
  for (const message of batch.messages) {
    const before = decoded.rows.length + decoded.deadLetters.length + decoded.duplicates;
    decodeUsageRecord(batch.topic, batch.partition, message, ingestedAt, decoded);
    lastOffset = message.offset;
    sinceYield += decoded.rows.length + decoded.deadLetters.length + decoded.duplicates - before;
    if (sinceYield >= EVENTS_PER_SLICE) {
      sinceYield = 0;
      await yieldToLoop();
    }
    if (decoded.rows.length + decoded.deadLetters.length + decoded.duplicates >= maxEvents) {
      yield { decoded, lastOffset };
      decoded = emptyBatch();
      ingestedAt = clickhouseDateTime(new Date());
      lastOffset = null;
    }
  }
  if (lastOffset !== null) yield { decoded, lastOffset };
}
