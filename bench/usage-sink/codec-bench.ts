/**
 * Kafka codecs on the usage topic's records (not a test): CPU per event to compress and to
 * decompress, and bytes per event, for NDJSON batches of distinct usage events as the sink builds
 * them (450 events per record, about what one partition's record holds at 7,000 events/s).
 *
 *   taskset -c 1 npx tsx bench/usage-sink/codec-bench.ts
 *
 * gzip (node:zlib, kafkajs's own codec) and zstd (@mongodb-js/zstd, the one packages/kafka keeps)
 * are always measured; snappy and lz4 only when their packages are present, which the project
 * does not install (they were measured and not kept):
 * `npm install --no-save snappy@7 lz4-napi@2` first to compare all four.
 */
import { promisify } from 'node:util';
import { gzip, unzip } from 'node:zlib';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { makeUsageEvent } from '@tollgate/kafka/testing';
import { usageEventJson } from '../../packages/kafka/src/usage-sink/usage-event-json.ts';

type Codec = { compress(b: Buffer): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };

const EVENTS_PER_RECORD = 450;
const RECORDS = 40;

const codecs: Record<string, Codec> = {
  gzip: { compress: promisify(gzip), decompress: promisify(unzip) },
  zstd: { compress: (b) => zstdCompress(b, 3), decompress: zstdDecompress },
};
// Optional packages, named through a variable so that neither the type checker nor the bundler
// asks for them.
async function optional(name: string): Promise<Record<string, (b: Buffer) => Promise<Buffer>> | null> {
  try {
    return (await import(name)) as Record<string, (b: Buffer) => Promise<Buffer>>;
  } catch {
    process.stdout.write(`(${name} not installed: not measured)\n`);
    return null;
  }
}
const snappy = await optional('snappy');
if (snappy !== null) codecs.snappy = { compress: snappy.compress!, decompress: snappy.uncompress! };
const lz4 = await optional('lz4-napi');
if (lz4 !== null) codecs.lz4 = { compress: lz4.compressFrame!, decompress: lz4.decompressFrame! };

const records = Array.from({ length: RECORDS }, (_, r) =>
  Buffer.from(
    Array.from({ length: EVENTS_PER_RECORD }, (_, i) => {
      const n = r * EVENTS_PER_RECORD + i;
      const event = makeUsageEvent(`cons_${n % 50}`, n);
      event.data.latencyMs = Math.round(((n * 7919) % 50_000) / 10) / 100;
      return `${usageEventJson(event)}\n`;
    }).join(''),
  ),
);
const events = RECORDS * EVENTS_PER_RECORD;
const inBytes = records.reduce((n, b) => n + b.length, 0);
const cpuUs = (from: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(from);
  return c.user + c.system;
};

// Two rounds; the first warms up (JIT, thread pool) and is not printed.
for (const round of [0, 1]) {
  for (const [name, codec] of Object.entries(codecs)) {
    const out: Buffer[] = [];
    const c0 = process.cpuUsage();
    for (const r of records) out.push(await codec.compress(r));
    const compressUs = cpuUs(c0);
    const d0 = process.cpuUsage();
    for (const o of out) await codec.decompress(o);
    const decompressUs = cpuUs(d0);
    const outBytes = out.reduce((n, b) => n + b.length, 0);
    if (round === 0) continue;
    process.stdout.write(
      `${name.padEnd(6)} compress ${(compressUs / events).toFixed(2)} µs/event, decompress ${(decompressUs / events).toFixed(2)} µs/event, ` +
        `${(outBytes / events).toFixed(1)} B/event (${((outBytes / inBytes) * 100).toFixed(1)} % of ${(inBytes / events).toFixed(0)} B)\n`,
    );
  }
}
