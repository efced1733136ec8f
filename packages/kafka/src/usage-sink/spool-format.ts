import { crc32 } from 'node:zlib';

/**
 * On-disk format of the usage spool (a write-ahead log of usage events).
 *
 * Segment files `<seq, 12 digits>.seg`, append-only, one event per line:
 *
 *     <crc32 of the JSON bytes, 8 lowercase hex> <event JSON>\n
 *
 * JSON never contains a raw newline, so `\n` frames records. A line whose CRC does not match, or
 * whose JSON does not parse, or a last line without its `\n` (torn by a crash mid-write) is
 * skipped and counted as corrupt; reading goes on with the next line.
 *
 * `committed` holds the position up to which the broker acknowledged every event:
 *
 *     <seq> <byte offset> <crc32 of "<seq> <offset>", 8 hex>\n   (space padded to 64 bytes)
 *
 * rewritten in place. An unreadable committed file means "from the oldest segment": duplicates,
 * never loss (the event id is the dedup key downstream).
 */
export const SEGMENT_SUFFIX = '.seg';
export const COMMITTED_FILE = 'committed';
export const COMMITTED_RECORD_BYTES = 64;
const NEWLINE = 0x0a;
const SPACE = 0x20;

export function segmentName(seq: number): string {
  return `${String(seq).padStart(12, '0')}${SEGMENT_SUFFIX}`;
}

export function parseSegmentName(name: string): number | null {
  const m = /^(\d{12})\.seg$/.exec(name);
  return m === null ? null : Number(m[1]);
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

export function encodeLine(json: string): string {
  return `${hex8(crc32(json))} ${json}\n`;
}

/** One spooled event as read back: its Kafka partitioning key and its JSON bytes. */
export interface SpoolRecord {
  /** `data.consumerId` (else `subject`) of the event; null when it has neither. */
  key: string | null;
  /**
   * The event's JSON followed by its `\n`: a view into the reader's buffer (the CRC framing cut
   * off), valid until the next read. This is what goes into the Kafka record, byte for byte.
   */
  line: Buffer;
}

export interface ParsedChunk {
  records: SpoolRecord[];
  /** Bytes of the chunk consumed (whole lines, plus a torn tail when `atEnd`). */
  consumed: number;
  corrupt: number;
}

/**
 * The Kafka key of a spooled event: `data.consumerId`, else `subject`. Lines are written by
 * publish() from a UsageEventV1 (whose `data` starts with `consumerId`) and their CRC matched,
 * so the key is read without parsing the event; anything else (an escape in the id, another
 * shape) takes the full JSON.parse.
 */
const CONSUMER_ID_AT = Buffer.from('"data":{"consumerId":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function keyOf(buf: Buffer, start: number, end: number): string | null | undefined {
  const at = buf.indexOf(CONSUMER_ID_AT, start);
  if (at >= 0 && at < end) {
    const from = at + CONSUMER_ID_AT.length;
    const to = buf.indexOf(QUOTE, from);
    if (to > from && to < end) {
      const escaped = buf.subarray(from, to).indexOf(BACKSLASH) >= 0;
      if (!escaped) return buf.toString('utf8', from, to);
    }
  }
  try {
    const v = JSON.parse(buf.toString('utf8', start, end)) as {
      data?: { consumerId?: unknown };
      subject?: unknown;
    };
    if (typeof v !== 'object' || v === null) return undefined;
    if (typeof v.data?.consumerId === 'string') return v.data.consumerId;
    return typeof v.subject === 'string' ? v.subject : null;
  } catch {
    return undefined;
  }
}

/**
 * Parses up to `maxRecords` lines of `buf[0, len)`. `atEnd`: these bytes reach the end of a
 * sealed segment, so a trailing fragment without `\n` is a torn write, skipped and counted.
 * `oversized` in the result: no complete line and not at the end; if the chunk filled the read
 * buffer, the caller treats it as one oversized (corrupt) line and resynchronizes at the next `\n`.
 */
export function parseChunk(
  whole: Buffer,
  len: number,
  maxRecords: number,
  atEnd: boolean,
): ParsedChunk & { oversized: boolean } {
  const buf = whole.subarray(0, len);
  const records: SpoolRecord[] = [];
  let pos = 0;
  let corrupt = 0;
  while (pos < len && records.length < maxRecords) {
    const nl = buf.indexOf(NEWLINE, pos);
    if (nl < 0 || nl >= len) break;
    const ok = nl - pos > 9 && buf[pos + 8] === SPACE;
    let record: SpoolRecord | null = null;
    if (ok) {
      const want = Number.parseInt(buf.toString('latin1', pos, pos + 8), 16);
      const body = buf.subarray(pos + 9, nl);
      if (Number.isFinite(want) && crc32(body) === want) {
        const key = keyOf(buf, pos + 9, nl);
        if (key !== undefined) record = { key, line: buf.subarray(pos + 9, nl + 1) };
      }
    }
    if (record === null) corrupt += 1;
    else records.push(record);
    pos = nl + 1;
  }
  let oversized = false;
  if (pos === 0 && records.length === 0 && corrupt === 0 && len > 0) {
    // No complete line in the chunk.
    if (atEnd) {
      corrupt += 1;
      pos = len;
    } else {
      oversized = true;
    }
  } else if (atEnd && records.length < maxRecords && pos < len && buf.indexOf(NEWLINE, pos) < 0) {
    // A torn last line after whole ones.
    corrupt += 1;
    pos = len;
  }
  return { records, consumed: pos, corrupt, oversized };
}

export function encodeCommitted(seq: number, offset: number): Buffer {
  const body = `${seq} ${offset}`;
  const line = `${body} ${hex8(crc32(body))}`;
  return Buffer.from(`${line.padEnd(COMMITTED_RECORD_BYTES - 1, ' ')}\n`, 'latin1');
}

export function decodeCommitted(text: string): { seq: number; offset: number } | null {
  const m = /^(\d+) (\d+) ([0-9a-f]{8})\s*$/.exec(text.replace(/\0/g, ''));
  if (m === null) return null;
  const body = `${m[1]} ${m[2]}`;
  if (crc32(body) !== Number.parseInt(m[3]!, 16)) return null;
  return { seq: Number(m[1]), offset: Number(m[2]) };
}
