/**
 * The record format of the usage topic `tollgate.usage.v2` (USAGE_TOPIC_V2 in core): the one
 * owner of this contract. Producers: the gateway's usage sink (and test helpers). Consumer:
 * metering's ingest.
 *
 * - One Kafka record carries a batch of usage events: newline-delimited JSON (NDJSON), one
 *   `UsageEventV1` (core's schema, `type` "tollgate.usage.v1", a CloudEvents 1.0 event in its
 *   JSON format) per line, every line ended by `\n`, UTF-8. A record holds at least one event.
 * - Record header `content-type: application/x-ndjson`. A record without it, or with another
 *   value, is not a usage batch (a consumer dead-letters it whole).
 * - Record key: none (null). A record holds the events of every consumer whose id falls into its
 *   partition; the producer chooses the partition itself, murmur2(consumerId) modulo the
 *   partition count (the Java client's and kafkajs's default partitioner applied to the consumer
 *   id), so all events of one consumer go to one partition, in the order they were published.
 * - The producer sends at most one record per partition per produce request (more only when a
 *   partition's events exceed MAX_RECORD_VALUE_BYTES), idempotent, acks=all, compressed with the
 *   codec the sink is configured with (compression.ts).
 * - Each event is serialized once, into the gateway's spool; the record value is those bytes
 *   copied from the spool (the spool's CRC framing removed), never parsed or re-serialized.
 * - The same event may appear in two records (a replay after a crash, a replaced producer): the
 *   event id is the dedup key downstream.
 * - Consumers split on `\n` and decode each line alone: a malformed line is one dead letter,
 *   the rest of the record is stored. An empty line carries no event and is skipped.
 */
export const USAGE_RECORD_CONTENT_TYPE = 'application/x-ndjson';
export const CONTENT_TYPE_HEADER = 'content-type';

/**
 * Largest value the sink puts in one record (uncompressed), below the broker's default
 * `message.max.bytes` (1 MiB for the whole record batch) even without compression.
 */
export const MAX_RECORD_VALUE_BYTES = 900 * 1024;

const NEWLINE = 0x0a;

/** Headers of every usage record (one shared object: kafkajs only reads it). */
export const USAGE_RECORD_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  [CONTENT_TYPE_HEADER]: USAGE_RECORD_CONTENT_TYPE,
});

/** A record value from already serialized events (test helpers, benchmarks). */
export function usageRecordValue(eventJson: readonly string[]): Buffer {
  return Buffer.from(eventJson.map((json) => `${json}\n`).join(''));
}

/** Whether a record's headers say it is a usage batch (kafkajs gives header values as Buffers). */
export function isUsageRecord(headers: Record<string, unknown> | undefined): boolean {
  const value = headers?.[CONTENT_TYPE_HEADER];
  if (value === undefined || value === null) return false;
  const text = Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
  return text === USAGE_RECORD_CONTENT_TYPE;
}

/**
 * The events of a record value as byte ranges `[start, end)` without their `\n`, in order.
 * Empty lines are skipped; a last line without `\n` is still an event (the consumer decides
 * whether it parses).
 */
export function usageRecordLines(value: Uint8Array): { start: number; end: number }[] {
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length);
  const lines: { start: number; end: number }[] = [];
  let pos = 0;
  while (pos < buf.length) {
    let nl = buf.indexOf(NEWLINE, pos);
    if (nl < 0) nl = buf.length;
    if (nl > pos) lines.push({ start: pos, end: nl });
    pos = nl + 1;
  }
  return lines;
}
