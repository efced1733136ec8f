import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import kafkajs, { CompressionTypes } from 'kafkajs';

/**
 * Kafka compression for kafkajs: ZSTD (the usage sink's codec) registered when this module loads
 * (client.ts imports it, so every producer and consumer made through this package can use it),
 * next to kafkajs's built-in GZIP. kafkajs ships only GZIP; ZSTD comes from @mongodb-js/zstd 1.x,
 * a napi-rs package whose prebuilt binary is an npm optional dependency (nothing is downloaded
 * at install time). Both run off the event loop (libuv thread pool). ZSTD needs Kafka 2.1+
 * (produce request v7, which kafkajs negotiates); the frame is plain zstd, what the Java client
 * writes and reads.
 *
 * Why ZSTD (BENCHMARKS.md, "Usage sink: codecs"): on NDJSON batches of usage events it gave the
 * fewest bytes (5.9 % of the input, gzip 6.4 %, lz4 11.6 %, snappy 14.3 %) for 0.53 µs of CPU per
 * event to compress (gzip 2.65, lz4 0.37, snappy 0.27–0.78) and 0.29 to decompress (gzip 1.7).
 * Snappy (`snappy` 7.x) and LZ4 (`lz4-napi` 2.x) were measured the same way and not kept.
 *
 * The counters (bytes in and out of each codec since start) let benchmarks report what a codec
 * puts on the wire; they cost two additions per record batch.
 */
export type CompressionName = 'none' | 'gzip' | 'zstd';

export const COMPRESSION_NAMES: readonly CompressionName[] = ['none', 'gzip', 'zstd'];

const TYPES: Record<CompressionName, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  zstd: CompressionTypes.ZSTD,
};

export function compressionType(name: CompressionName): CompressionTypes {
  return TYPES[name];
}

export interface CodecCounters {
  /** Record batches compressed. */
  batches: number;
  /** Bytes handed to the codec (encoded records). */
  bytesIn: number;
  /** Compressed bytes: what goes on the wire. */
  bytesOut: number;
}

const counters: Record<Exclude<CompressionName, 'none'>, CodecCounters> = {
  gzip: { batches: 0, bytesIn: 0, bytesOut: 0 },
  zstd: { batches: 0, bytesIn: 0, bytesOut: 0 },
};

/** A copy of the per-codec counters of this process. */
export function codecCounters(): Record<Exclude<CompressionName, 'none'>, CodecCounters> {
  return {
    gzip: { ...counters.gzip },
    zstd: { ...counters.zstd },
  };
}

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

function counted(name: Exclude<CompressionName, 'none'>, codec: Codec): Codec {
  const c = counters[name];
  return {
    async compress(encoder) {
      const out = await codec.compress(encoder);
      c.batches += 1;
      c.bytesIn += encoder.buffer.length;
      c.bytesOut += out.length;
      return out;
    },
    decompress: (buffer) => codec.decompress(buffer),
  };
}

// CommonJS: Node's ESM loader does not see this export by name.
const { CompressionCodecs } = kafkajs;
const builtInGzip = CompressionCodecs[CompressionTypes.GZIP]() as Codec;

// zstd level 3 is the library's (and Kafka's) default.
const ZSTD_LEVEL = 3;

let registered = false;

/** Registers the codecs with kafkajs; called when this module loads, idempotent. */
export function registerCompressionCodecs(): void {
  if (registered) return;
  registered = true;
  const gzip = counted('gzip', builtInGzip);
  const zstd = counted('zstd', {
    compress: (encoder) => zstdCompress(encoder.buffer, ZSTD_LEVEL),
    decompress: (buffer) => zstdDecompress(buffer),
  });
  CompressionCodecs[CompressionTypes.GZIP] = () => gzip;
  CompressionCodecs[CompressionTypes.ZSTD] = () => zstd;
}

registerCompressionCodecs();
