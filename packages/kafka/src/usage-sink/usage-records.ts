import type { Message } from 'kafkajs';
import type { KeyPartitions } from '../client.ts';
import { MAX_RECORD_VALUE_BYTES, USAGE_RECORD_HEADERS } from '../usage-topic/usage-record.ts';
import type { SpoolRecord } from './spool-format.ts';

/**
 * Spooled events → the Kafka records of one send (the usage topic's contract in
 * usage-topic/usage-record.ts): one record per partition, holding that partition's events in
 * spool order as NDJSON, the value copied from the spool's bytes (never re-serialized). A
 * partition whose events exceed MAX_RECORD_VALUE_BYTES gets further records.
 */
export function usageRecords(
  records: readonly SpoolRecord[],
  partitions: number,
  keys: KeyPartitions,
): Message[] {
  const lines: Buffer[][] = Array.from({ length: partitions }, () => []);
  const bytes = new Array<number>(partitions).fill(0);
  const messages: Message[] = [];
  const cut = (partition: number) => {
    messages.push({
      partition,
      key: null,
      value: Buffer.concat(lines[partition]!, bytes[partition]!),
      headers: USAGE_RECORD_HEADERS as Record<string, string>,
    });
    lines[partition] = [];
    bytes[partition] = 0;
  };
  for (const record of records) {
    const partition = keys.partitionOf(record.key ?? '', partitions);
    const size = record.line.length;
    if (bytes[partition]! > 0 && bytes[partition]! + size > MAX_RECORD_VALUE_BYTES) cut(partition);
    lines[partition]!.push(record.line);
    bytes[partition]! += size;
  }
  for (let partition = 0; partition < partitions; partition++) {
    if (bytes[partition]! > 0) cut(partition);
  }
  return messages;
}
