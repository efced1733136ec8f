import {
  close,
  closeSync,
  fdatasync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  unlinkSync,
  write,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { type FileHandle, open as openAsync } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { USAGE_TOPIC_V1, type UsageEventSink, type UsageEventV1 } from '@tollgate/core';
import { type Admin, CompressionTypes, type Kafka, type Producer } from 'kafkajs';
import { createIdempotentProducer } from '../client.ts';
import {
  COMMITTED_FILE,
  decodeCommitted,
  encodeCommitted,
  encodeLine,
  parseChunk,
  parseSegmentName,
  type SpoolRecord,
  segmentName,
} from './spool-format.ts';

/**
 * KafkaUsageSink: the gateway's usage events to Kafka, through a local write-ahead spool.
 *
 * Path of an event: `publish()` serializes it (JSON + CRC-32 framing) and queues the line; at
 * most every `writeDelayMs` (5 ms) ONE write(2) hands everything queued to the kernel (libuv
 * thread pool, at most one write in flight), appending to the active spool segment. A
 * background sender reads the spool in order, batches (up to `batchSize` events or
 * `lingerMs`), and sends with the idempotent producer (acks=all, one request in flight) to the
 * versioned topic keyed by consumer id, GZIP-compressed (GZIP is built into kafkajs;
 * snappy/lz4/zstd need native codec packages, and usage JSON compresses well with GZIP). After the broker acks a batch, the sender advances
 * the `committed` position; a segment is deleted once every event in it is acked. The spool is the
 * WAL in normal operation and in an outage alike: one code path, nothing special on failover.
 *
 * Guarantees:
 * - publish() is O(1), synchronous, never awaits, never does I/O, never throws.
 * - SIGKILL of the process: everything already written is in the page cache and survives. Lost:
 *   only lines still queued, i.e. published since the last write(2) was issued — in practice
 *   `writeDelayMs` plus one page-cache write (a few ms of traffic; the crash test measures it),
 *   never more than `maxPendingEvents`. `writeMode: 'sync'` removes even that
 *   window (publish() writes before returning) at the price of blocking the event loop whenever
 *   the disk is slow.
 * - fsync policy: the active segment is fdatasync'ed every `fsyncIntervalMs` (default 100 ms) if
 *   written since the last one, when a segment is sealed, on flush() and on close(). An OS crash
 *   or power loss loses at most the events written in the last `fsyncIntervalMs` (plus one fsync
 *   duration) and the queued ones above. fsync runs in the thread pool, never on the event loop.
 * - Kafka unreachable or a send failing: publish() does not notice. The sender retries the SAME
 *   batch with backoff (probing the topic's metadata until every partition has a leader), then
 *   goes on in order. The spool grows meanwhile, up to `maxSpoolBytes`.
 * - Exactly one copy per event in normal operation and across broker outages: a failed batch is
 *   re-sent unchanged by the same idempotent producer, so it reuses its sequence numbers and the
 *   broker discards a copy it already has. At-least-once across a crash of the gateway (events
 *   acked but not yet recorded in `committed` are sent again by the next process) and when a
 *   stuck producer is replaced. The event id (UUIDv7) is the dedup key downstream (ClickHouse
 *   ReplacingMergeTree, Stripe identifiers), so a duplicate is harmless.
 * - Bounds: memory holds at most `maxPendingEvents` queued lines plus one batch (`batchSize`)
 *   and one read buffer (`readBufferBytes`), however long the outage. Disk holds at most
 *   `maxSpoolBytes`. An event over a bound is dropped, counted (`dropped`, by reason) and logged
 *   (at most once per `dropLogIntervalMs`); so is a line whose write failed.
 * - Replay after a restart: a new sink on the same directory sends, first and in order, what the
 *   previous process left (from `committed` on). It never appends to an old segment, so a torn
 *   last line stays at the end of a sealed segment, where it is skipped and counted (`corrupt`).
 * - flush(): every event accepted so far is written and fdatasync'ed (durable locally), whether
 *   or not Kafka is up. drain(ms): waits until the broker acked everything accepted so far.
 *   close(): stops accepting (call it after the HTTP server stopped), drains within a deadline,
 *   fsyncs, and leaves the rest in the spool for the next process.
 * - One sink per spool directory (a lock file holds the owner's pid); one directory per gateway
 *   process.
 */

export type SinkLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type SinkLogger = (level: SinkLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface KafkaUsageSinkOptions {
  /** A client from `createKafka`. The sink makes its own producer (and an admin for probes). */
  kafka: Kafka;
  /** Directory of the spool; created if missing. One sink (one process) per directory. */
  spoolDir: string;
  /** Default USAGE_TOPIC_V1; tests use a unique topic. */
  topic?: string;
  /** Max events per Kafka request. Default 500. */
  batchSize?: number;
  /**
   * Max time an event waits for its batch to fill, in ms. Default 50: a send has a fixed CPU
   * cost in the producer, so fuller batches cost less per event (`npm run bench:usage-sink`:
   * 24–28 µs of CPU per event with these defaults, 35–37 µs with linger 20 ms and a spool write
   * every turn, at 7,000 events/s).
   */
  lingerMs?: number;
  /** Default 100 ms: the bound on what an OS crash can lose. 0 = fdatasync after every write. */
  fsyncIntervalMs?: number;
  /**
   * 'async' (default): publish() queues the line in memory and one write(2) at most every
   * `writeDelayMs` hands the queue to the kernel from the libuv thread pool, so a slow disk never
   * blocks the event loop. SIGKILL loses the lines not yet written (see the module comment).
   * 'sync': publish() itself appends with a synchronous write(2): SIGKILL loses nothing, but a
   * stalled disk stalls the event loop (measured: tens of ms under disk contention).
   */
  writeMode?: 'async' | 'sync';
  /**
   * 'async' mode: how long the first queued line waits for others before the write, in ms.
   * Default 5. Each write is a hop to the thread pool and back (a wake-up and a context switch
   * on each side); under load, writing every turn cost more CPU than anything else the sink
   * does. 0 = write at the end of the current event-loop turn.
   */
  writeDelayMs?: number;
  /** Memory bound in 'async' mode: lines waiting for their write. Default 10 000. */
  maxPendingEvents?: number;
  /**
   * A segment is sealed (and can be deleted once acked) by the first write that finds it at this
   * size or more, so it may exceed it by one write. Default 8 MiB.
   */
  segmentBytes?: number;
  /** Disk bound of the spool. Default 1 GiB. Must be at least 2 segments. */
  maxSpoolBytes?: number;
  /** Read buffer of the sender. Default 1 MiB; an event must be smaller. */
  readBufferBytes?: number;
  compression?: 'gzip' | 'none';
  /** Backoff between attempts while Kafka is unreachable, in ms. Default 100 → 2000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Retries kafkajs makes inside one send before the sink's own backoff loop. Default 2. */
  producerRetries?: number;
  log?: SinkLogger;
  dropLogIntervalMs?: number;
  /** Clock for log throttling; tests may inject. */
  now?: () => number;
}

export type DropReason = 'memory' | 'disk' | 'write_error' | 'closed' | 'serialize';

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
  kafkaUp: boolean;
}

interface Segment {
  seq: number;
  path: string;
  /** Bytes written (ours) or found (a previous process's). */
  size: number;
  sealed: boolean;
  /** Written by a previous process: everything in it is a replay. */
  inherited: boolean;
}

interface Waiter {
  seq: number;
  offset: number;
  resolve: () => void;
}

const noopLog: SinkLogger = () => {};
const LOCK_FILE = 'lock';
/** Spool directories open in this process (the lock file guards against other processes). */
const openDirs = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One sink per spool directory: refuses a directory held by a live process (or this one). */
function lockSpool(dir: string): void {
  if (openDirs.has(dir)) throw new Error(`usage spool ${dir} is already open in this process`);
  const lockPath = join(dir, LOCK_FILE);
  let holder = Number.NaN;
  try {
    holder = Number(readFileSync(lockPath, 'utf8').trim());
  } catch {
    // no lock file
  }
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
    throw new Error(`usage spool ${dir} is in use by process ${holder}`);
  }
  writeFileSync(lockPath, `${process.pid}\n`);
  openDirs.add(dir);
}

function unlockSpool(dir: string): void {
  openDirs.delete(dir);
  try {
    unlinkSync(join(dir, LOCK_FILE));
  } catch {
    // already gone
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class KafkaUsageSink implements UsageEventSink {
  private readonly kafka: Kafka;
  private readonly dir: string;
  private readonly topic: string;
  private readonly batchSize: number;
  private readonly lingerMs: number;
  private readonly fsyncIntervalMs: number;
  private readonly writeMode: 'async' | 'sync';
  private readonly writeDelayMs: number;
  private readonly maxPendingEvents: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private writeScheduled = false;
  private writeIdleWaiters: (() => void)[] = [];
  private readonly segmentBytes: number;
  private readonly maxSpoolBytes: number;
  private readonly readBuffer: Buffer;
  private readonly compression: CompressionTypes;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly log: SinkLogger;
  private readonly dropLogIntervalMs: number;
  private readonly clock: () => number;
  private producer: Producer;
  private readonly producerRetries: number;
  /** Consecutive failed sends while the broker's metadata looked healthy. */
  private failuresWhileReady = 0;
  private admin: Admin | null = null;

  private readonly segments: Segment[] = [];
  private active!: Segment;
  private fd = -1;
  private committedFd = -1;
  private needRoll = false;
  private dirty = false;
  private fsyncTimer: NodeJS.Timeout | null = null;
  private fsyncInFlight: Promise<void> | null = null;

  /** Reader position = acked position: the sender reads, sends, and only then moves on. */
  private readSeq = 0;
  private readOffset = 0;
  private readHandle: { seq: number; fh: FileHandle } | null = null;
  private resync = false;
  private unread = 0;
  private firstUnreadAt = 0;
  private wakePending = false;
  private wakeResolve: (() => void) | null = null;
  private waiters: Waiter[] = [];
  private connected = false;
  /** End of the spool when Kafka came back: what was queued before it counts as replayed. */
  private replayUntil: { seq: number; offset: number } | null = null;
  private fdsClosed = false;
  private closing = false;
  private stopped = false;
  private senderDone: Promise<void> = Promise.resolve();
  private committedWrite: Promise<void> = Promise.resolve();
  private lastDropLogAt = Number.NEGATIVE_INFINITY;
  private dropsSinceLog = 0;

  private readonly counters = {
    published: 0,
    spooled: 0,
    sent: 0,
    replayed: 0,
    corrupt: 0,
    sendErrors: 0,
    spoolBytes: 0,
    spoolDepth: 0,
    inMemory: 0,
  };
  private readonly drops: Record<DropReason, number> = {
    memory: 0,
    disk: 0,
    write_error: 0,
    closed: 0,
    serialize: 0,
  };
  private kafkaUp = false;

  private constructor(opts: KafkaUsageSinkOptions) {
    this.kafka = opts.kafka;
    this.dir = resolvePath(opts.spoolDir);
    this.topic = opts.topic ?? USAGE_TOPIC_V1;
    this.batchSize = opts.batchSize ?? 500;
    this.lingerMs = opts.lingerMs ?? 50;
    this.writeDelayMs = opts.writeDelayMs ?? 5;
    this.fsyncIntervalMs = opts.fsyncIntervalMs ?? 100;
    this.writeMode = opts.writeMode ?? 'async';
    this.maxPendingEvents = opts.maxPendingEvents ?? 10_000;
    this.segmentBytes = opts.segmentBytes ?? 8 * 1024 * 1024;
    this.maxSpoolBytes = opts.maxSpoolBytes ?? 1024 * 1024 * 1024;
    if (this.maxSpoolBytes < 2 * this.segmentBytes)
      throw new RangeError('maxSpoolBytes must be >= 2 segments');
    this.readBuffer = Buffer.allocUnsafe(opts.readBufferBytes ?? 1024 * 1024);
    this.compression = opts.compression === 'none' ? CompressionTypes.None : CompressionTypes.GZIP;
    this.retryInitialMs = opts.retryInitialMs ?? 100;
    this.retryMaxMs = opts.retryMaxMs ?? 2000;
    const log = opts.log ?? noopLog;
    // A throwing logger must not make publish() throw.
    this.log = (level, msg, fields) => {
      try {
        log(level, msg, fields);
      } catch {
        // ignored
      }
    };
    this.dropLogIntervalMs = opts.dropLogIntervalMs ?? 1000;
    this.clock = opts.now ?? Date.now;
    this.producerRetries = opts.producerRetries ?? 2;
    this.producer = createIdempotentProducer(this.kafka, { retries: this.producerRetries });
  }

  /**
   * Opens the spool (replaying whatever a previous process left) and starts the background
   * sender. Does not wait for Kafka: the gateway can start, and publish, while Kafka is down.
   */
  static open(opts: KafkaUsageSinkOptions): KafkaUsageSink {
    const sink = new KafkaUsageSink(opts);
    sink.openSpool();
    sink.senderDone = sink.runSender().catch((err: unknown) => {
      sink.log('error', 'usage sink: sender stopped on an unexpected error', { err: String(err) });
    });
    if (sink.fsyncIntervalMs > 0) {
      sink.fsyncTimer = setInterval(() => sink.fsyncNow(), sink.fsyncIntervalMs);
      sink.fsyncTimer.unref();
    }
    return sink;
  }

  // ---------------------------------------------------------------------------------------------
  // the request path

  publish(event: UsageEventV1): void {
    this.counters.published += 1;
    if (this.closing) {
      this.drop('closed');
      return;
    }
    let line: string;
    try {
      line = encodeLine(JSON.stringify(event));
    } catch {
      this.drop('serialize');
      return;
    }
    const bytes = Buffer.byteLength(line);
    if (this.counters.spoolBytes + this.pendingBytes + bytes > this.maxSpoolBytes) {
      this.drop('disk');
      return;
    }
    if (this.writeMode === 'async') {
      if (this.pending.length >= this.maxPendingEvents) {
        this.drop('memory');
        return;
      }
      this.pending.push(line);
      this.pendingBytes += bytes;
      if (!this.writing && !this.writeScheduled) this.scheduleWrite();
      return;
    }
    try {
      if (this.needRoll || this.active.size >= this.segmentBytes) this.roll();
      const written = writeSync(this.fd, line);
      this.active.size += written;
      this.counters.spoolBytes += written;
      if (written !== bytes) {
        // A short write (disk full): the torn line is sealed in this segment and skipped on read.
        this.needRoll = true;
        this.drop('write_error');
        return;
      }
    } catch (err) {
      this.needRoll = true;
      this.drop('write_error', err);
      return;
    }
    this.appended(1);
  }

  private scheduleWrite(): void {
    this.writeScheduled = true;
    if (this.writeDelayMs === 0) setImmediate(this.writePending);
    else setTimeout(this.writePending, this.writeDelayMs);
  }

  /** 'async' mode: one write(2) of everything queued, at most one in flight, off the event loop. */
  private readonly writePending = (): void => {
    this.writeScheduled = false;
    if (this.writing) return;
    if (this.pending.length === 0 || this.fdsClosed) {
      this.writesIdle();
      return;
    }
    const lines = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    try {
      if (this.needRoll || this.active.size >= this.segmentBytes) this.roll();
    } catch (err) {
      for (let i = 0; i < lines.length; i++) this.drop('write_error', err);
      this.writesIdle();
      return;
    }
    const buf = Buffer.from(lines.join(''));
    const seg = this.active;
    this.writing = true;
    write(this.fd, buf, 0, buf.length, null, (err, written) => {
      this.writing = false;
      if (err !== null) {
        this.needRoll = true;
        for (let i = 0; i < lines.length; i++) this.drop('write_error', err);
      } else {
        seg.size += written;
        this.counters.spoolBytes += written;
        let complete = lines.length;
        if (written < buf.length) {
          // Short write (disk full): count the lines that made it whole; the rest are dropped.
          this.needRoll = true;
          let at = 0;
          complete = 0;
          for (const l of lines) {
            at += Buffer.byteLength(l);
            if (at > written) break;
            complete += 1;
          }
          for (let i = complete; i < lines.length; i++) this.drop('write_error');
        }
        this.appended(complete);
        if (this.fsyncIntervalMs === 0) void this.fsyncNow();
      }
      if (this.pending.length > 0) this.scheduleWrite();
      else this.writesIdle();
    });
  };

  private writesIdle(): void {
    if (this.writing || this.pending.length > 0) return;
    const waiters = this.writeIdleWaiters;
    this.writeIdleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once every line queued so far has been handed to the kernel (or dropped). */
  private waitForWrites(): Promise<void> {
    if (!this.writing && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.writeIdleWaiters.push(resolve));
  }

  /** Bookkeeping once `n` whole lines are in the active segment. */
  private appended(n: number): void {
    if (n === 0) return;
    this.counters.spooled += n;
    this.counters.spoolDepth += n;
    this.dirty = true;
    if (this.writeMode === 'sync' && this.fsyncIntervalMs === 0) this.fsyncSyncQuiet();
    const before = this.unread;
    this.unread += n;
    if (before === 0) {
      this.firstUnreadAt = this.clock();
      this.wake();
    } else if (before < this.batchSize && this.unread >= this.batchSize) {
      this.wake();
    }
  }

  private drop(reason: DropReason, err?: unknown): void {
    this.drops[reason] += 1;
    this.dropsSinceLog += 1;
    const now = this.clock();
    if (now - this.lastDropLogAt >= this.dropLogIntervalMs) {
      this.log('warn', 'usage sink: event dropped', {
        reason,
        droppedSinceLastLog: this.dropsSinceLog,
        droppedTotal: this.droppedTotal(),
        spoolBytes: this.counters.spoolBytes,
        ...(err === undefined ? {} : { err: String(err) }),
      });
      this.lastDropLogAt = now;
      this.dropsSinceLog = 0;
    }
  }

  private droppedTotal(): number {
    return (
      this.drops.memory + this.drops.disk + this.drops.write_error + this.drops.closed + this.drops.serialize
    );
  }

  stats(): UsageSinkStats {
    return {
      published: this.counters.published,
      spooled: this.counters.spooled,
      sent: this.counters.sent,
      replayed: this.counters.replayed,
      dropped: this.droppedTotal(),
      droppedByReason: { ...this.drops },
      corrupt: this.counters.corrupt,
      spoolBytes: this.counters.spoolBytes,
      spoolDepth: Math.max(0, this.counters.spoolDepth),
      inMemory: this.pending.length + this.counters.inMemory,
      sendErrors: this.counters.sendErrors,
      kafkaUp: this.kafkaUp,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // durability

  /** Every event accepted so far is in the spool and fdatasync'ed. Does not wait for Kafka. */
  async flush(): Promise<void> {
    await this.waitForWrites();
    await this.fsyncNow();
  }

  /** Resolves true once the broker acked every event accepted before the call; false at the deadline. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let writesTimer: NodeJS.Timeout | undefined;
    await Promise.race([this.waitForWrites(), new Promise((r) => (writesTimer = setTimeout(r, timeoutMs)))]);
    clearTimeout(writesTimer);
    timeoutMs = Math.max(0, deadline - Date.now());
    const target = { seq: this.active.seq, offset: this.active.size };
    if (this.reached(target)) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<boolean>((resolve) => {
      const waiter: Waiter = { ...target, resolve: () => resolve(true) };
      this.waiters.push(waiter);
      timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
    });
    this.wake();
    const ok = await done;
    clearTimeout(timer);
    return ok;
  }

  /** Stops accepting (later publishes are dropped as 'closed'), drains within the deadline, fsyncs. */
  async close(opts: { deadlineMs?: number } = {}): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const drained = await this.drain(opts.deadlineMs ?? 5000);
    // Nothing new can be queued now; never close the fd under a write in flight.
    await this.waitForWrites();
    this.stopped = true;
    this.wake();
    if (this.fsyncTimer !== null) clearInterval(this.fsyncTimer);
    await this.fsyncNow();
    // The sender may be inside a send that cannot be cancelled; give it a moment, not forever.
    await Promise.race([this.senderDone, sleep(drained ? 1000 : 100)]);
    await this.committedWrite;
    this.log(drained ? 'info' : 'warn', 'usage sink closed', { ...this.stats(), drained });
    this.fdsClosed = true;
    try {
      closeSync(this.fd);
      closeSync(this.committedFd);
    } catch {
      // already closed
    }
    await this.readHandle?.fh.close().catch(() => {});
    this.readHandle = null;
    unlockSpool(this.dir);
    await Promise.allSettled([this.producer.disconnect(), this.admin?.disconnect()]);
  }

  private fsyncNow(): Promise<void> {
    if (this.fsyncInFlight !== null) return this.fsyncInFlight.then(() => this.fsyncNow());
    if (!this.dirty || this.fd < 0) return Promise.resolve();
    this.dirty = false;
    const fd = this.fd;
    this.fsyncInFlight = new Promise<void>((resolve) => {
      fdatasync(fd, (err) => {
        if (err !== null && this.fd === fd) {
          this.dirty = true;
          this.log('error', 'usage sink: fdatasync failed', { err: String(err) });
        }
        this.fsyncInFlight = null;
        resolve();
      });
    });
    return this.fsyncInFlight;
  }

  private fsyncSyncQuiet(): void {
    try {
      fdatasyncSync(this.fd);
      this.dirty = false;
    } catch (err) {
      this.log('error', 'usage sink: fdatasync failed', { err: String(err) });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // the spool

  private openSpool(): void {
    mkdirSync(this.dir, { recursive: true });
    lockSpool(this.dir);
    const seqs = readdirSync(this.dir)
      .map(parseSegmentName)
      .filter((s): s is number => s !== null)
      .sort((a, b) => a - b);
    this.committedFd = openSync(join(this.dir, COMMITTED_FILE), 'a+');
    let committed: { seq: number; offset: number } | null = null;
    try {
      committed = decodeCommitted(readFileSync(join(this.dir, COMMITTED_FILE), 'latin1'));
    } catch {
      committed = null;
    }
    closeSync(this.committedFd);
    this.committedFd = openSync(join(this.dir, COMMITTED_FILE), 'r+');
    for (const seq of seqs) {
      const path = join(this.dir, segmentName(seq));
      if (committed !== null && seq < committed.seq) {
        unlinkSync(path);
        continue;
      }
      const size = statSync(path).size;
      this.segments.push({ seq, path, size, sealed: true, inherited: true });
      this.counters.spoolBytes += size;
    }
    const first = this.segments[0];
    if (first !== undefined) {
      this.readSeq = first.seq;
      this.readOffset =
        committed !== null && committed.seq === first.seq ? Math.min(committed.offset, first.size) : 0;
      this.counters.spoolDepth = this.countLines(first.seq, this.readOffset);
    }
    const lastSeq = Math.max(committed?.seq ?? 0, this.segments.at(-1)?.seq ?? 0);
    this.openActive(lastSeq + 1);
    if (first === undefined) {
      this.readSeq = this.active.seq;
      this.readOffset = 0;
    }
    if (this.counters.spoolDepth > 0) {
      this.log('info', 'usage sink: replaying spool left by a previous process', {
        events: this.counters.spoolDepth,
        segments: this.segments.length - 1,
      });
    }
  }

  /** Newline count from a position to the end of the inherited segments (startup only). */
  private countLines(fromSeq: number, fromOffset: number): number {
    let n = 0;
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (const seg of this.segments) {
      if (seg.seq < fromSeq) continue;
      const fd = openSync(seg.path, 'r');
      try {
        let pos = seg.seq === fromSeq ? fromOffset : 0;
        for (;;) {
          const got = readSync(fd, buf, 0, buf.length, pos);
          if (got <= 0) break;
          for (let i = buf.indexOf(10, 0); i >= 0 && i < got; i = buf.indexOf(10, i + 1)) n += 1;
          pos += got;
        }
      } finally {
        closeSync(fd);
      }
    }
    return n;
  }

  private openActive(seq: number): void {
    const path = join(this.dir, segmentName(seq));
    this.fd = openSync(path, 'wx');
    this.active = { seq, path, size: 0, sealed: false, inherited: false };
    this.segments.push(this.active);
  }

  private roll(): void {
    const old = this.active;
    const oldFd = this.fd;
    old.sealed = true;
    this.needRoll = false;
    this.openActive(old.seq + 1);
    // Seal: make the old segment durable, then close it (the reader has its own handle).
    fdatasync(oldFd, () => close(oldFd, () => {}));
  }

  private persistCommitted(): void {
    const record = encodeCommitted(this.readSeq, this.readOffset);
    const fd = this.committedFd;
    // Serialized, fire-and-forget: a lost or stale record only means re-sending (duplicates).
    this.committedWrite = this.committedWrite.then(
      () =>
        new Promise<void>((resolve) => {
          if (this.fdsClosed) return resolve();
          try {
            writeSync(fd, record, 0, record.length, 0);
          } catch (err) {
            this.log('warn', 'usage sink: could not record the committed position', { err: String(err) });
          }
          resolve();
        }),
    );
  }

  private segmentIndex(seq: number): number {
    return this.segments.findIndex((s) => s.seq === seq);
  }

  private reached(target: { seq: number; offset: number }): boolean {
    return this.readSeq > target.seq || (this.readSeq === target.seq && this.readOffset >= target.offset);
  }

  private notifyWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.reached(w)) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  // ---------------------------------------------------------------------------------------------
  // the sender

  private wake(): void {
    const r = this.wakeResolve;
    if (r !== null) {
      this.wakeResolve = null;
      r();
    } else {
      this.wakePending = true;
    }
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

  /** The sender loop, restarted after an unexpected error (a spool read failing, say). */
  private async runSender(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.senderLoop();
      } catch (err) {
        this.log('error', 'usage sink: sender failed; restarting in 1 s', { err: String(err) });
        await this.readHandle?.fh.close().catch(() => {});
        this.readHandle = null;
        await sleep(1000);
      }
    }
  }

  private async senderLoop(): Promise<void> {
    while (!this.stopped) {
      const idx = this.segmentIndex(this.readSeq);
      const seg = this.segments[idx];
      if (seg === undefined) throw new Error(`usage sink: reader lost its segment ${this.readSeq}`);
      const end = seg.size;
      if (this.readOffset >= end) {
        if (seg.sealed) {
          await this.finishSegment(idx);
          continue;
        }
        this.notifyWaiters();
        await this.waitForWake(null);
        continue;
      }
      // Linger: a partial batch of fresh events waits up to lingerMs for company.
      if (!seg.sealed && this.unread < this.batchSize && !this.closing && this.waiters.length === 0) {
        const waited = this.clock() - this.firstUnreadAt;
        if (waited < this.lingerMs) {
          await this.waitForWake(this.lingerMs - waited);
          if (this.unread < this.batchSize && this.clock() - this.firstUnreadAt < this.lingerMs) continue;
        }
      }
      const chunk = await this.readChunk(seg, end);
      if (chunk.records.length > 0) {
        this.counters.inMemory = chunk.records.length;
        const ok = await this.sendWithRetry(chunk.records);
        this.counters.inMemory = 0;
        if (!ok) return;
        this.counters.sent += chunk.records.length;
        const late =
          seg.inherited ||
          (this.replayUntil !== null &&
            (seg.seq < this.replayUntil.seq ||
              (seg.seq === this.replayUntil.seq && this.readOffset < this.replayUntil.offset)));
        if (late) this.counters.replayed += chunk.records.length;
        else this.replayUntil = null;
      }
      if (chunk.corrupt > 0) {
        this.counters.corrupt += chunk.corrupt;
        this.log('warn', 'usage sink: skipped corrupt or torn spool lines', {
          lines: chunk.corrupt,
          segment: seg.path,
          offset: this.readOffset,
        });
      }
      const events = chunk.records.length + chunk.corruptLines;
      this.counters.spoolDepth -= events;
      if (!seg.inherited) {
        this.unread = Math.max(0, this.unread - chunk.records.length - chunk.corruptLines);
        if (this.unread > 0) this.firstUnreadAt = this.clock();
      }
      this.readOffset += chunk.consumed;
      this.persistCommitted();
      this.notifyWaiters();
    }
  }

  private async finishSegment(idx: number): Promise<void> {
    const seg = this.segments[idx]!;
    const next = this.segments[idx + 1];
    if (next === undefined) throw new Error('usage sink: a sealed segment has no successor');
    if (this.readHandle !== null && this.readHandle.seq === seg.seq) {
      await this.readHandle.fh.close().catch(() => {});
      this.readHandle = null;
    }
    this.segments.splice(idx, 1);
    this.readSeq = next.seq;
    this.readOffset = 0;
    this.resync = false;
    this.persistCommitted();
    await this.committedWrite;
    try {
      unlinkSync(seg.path);
    } catch (err) {
      this.log('warn', 'usage sink: could not delete an acked segment', { path: seg.path, err: String(err) });
    }
    this.counters.spoolBytes -= seg.size;
    this.notifyWaiters();
  }

  private async readChunk(
    seg: Segment,
    end: number,
  ): Promise<{ records: SpoolRecord[]; consumed: number; corrupt: number; corruptLines: number }> {
    if (this.readHandle === null || this.readHandle.seq !== seg.seq) {
      await this.readHandle?.fh.close().catch(() => {});
      this.readHandle = { seq: seg.seq, fh: await openAsync(seg.path, 'r') };
    }
    const want = Math.min(this.readBuffer.length, end - this.readOffset);
    const { bytesRead } = await this.readHandle.fh.read(this.readBuffer, 0, want, this.readOffset);
    const atEnd = seg.sealed && this.readOffset + bytesRead >= end;
    let skip = 0;
    if (this.resync) {
      // After an oversized line: drop bytes up to and including the next newline.
      const nl = this.readBuffer.subarray(0, bytesRead).indexOf(10);
      if (nl < 0) return { records: [], consumed: bytesRead, corrupt: 0, corruptLines: 0 };
      skip = nl + 1;
      this.resync = false;
    }
    const parsed = parseChunk(this.readBuffer.subarray(skip), bytesRead - skip, this.batchSize, atEnd);
    if (parsed.oversized && bytesRead === this.readBuffer.length) {
      this.resync = true;
      return { records: [], consumed: bytesRead, corrupt: 1, corruptLines: 0 };
    }
    // A torn tail has no newline, so it was never counted in spoolDepth; other corrupt lines were.
    const tornTail =
      atEnd && parsed.consumed === bytesRead - skip && !this.endsWithNewline(bytesRead) ? 1 : 0;
    return {
      records: parsed.records,
      consumed: skip + parsed.consumed,
      corrupt: parsed.corrupt,
      corruptLines: parsed.corrupt - tornTail,
    };
  }

  private endsWithNewline(len: number): boolean {
    return len > 0 && this.readBuffer[len - 1] === 10;
  }

  private async sendWithRetry(records: SpoolRecord[]): Promise<boolean> {
    const messages = records.map((r) => ({ key: r.key, value: r.value }));
    let attempt = 0;
    for (;;) {
      if (this.stopped) return false;
      try {
        if (!this.connected) {
          await this.producer.connect();
          this.connected = true;
        }
        await this.producer.send({ topic: this.topic, acks: -1, compression: this.compression, messages });
        if (!this.kafkaUp) {
          this.kafkaUp = true;
          this.log('info', 'usage sink: kafka reachable', { afterAttempts: attempt + 1 });
        }
        if (attempt > 0) this.replayUntil = { seq: this.active.seq, offset: this.active.size };
        this.failuresWhileReady = 0;
        return true;
      } catch (err) {
        attempt += 1;
        this.counters.sendErrors += 1;
        if (this.kafkaUp || attempt === 1) {
          this.log('warn', 'usage sink: kafka send failed; spooling and retrying the same batch', {
            err: String(err),
            spoolDepth: this.counters.spoolDepth,
          });
        }
        this.kafkaUp = false;
        const wasReady = await this.waitUntilBrokerReady(attempt);
        if (wasReady) this.failuresWhileReady += 1;
        if (this.failuresWhileReady >= 5) await this.replaceProducer(err);
      }
    }
  }

  /**
   * A producer that keeps failing while the broker looks healthy is stuck (fenced, unknown
   * producer id, out-of-order sequence): replace it. The new producer id means the broker can no
   * longer recognise a copy of the batch in flight, so this one batch may be duplicated
   * (at-least-once; the event id dedups downstream).
   */
  private async replaceProducer(err: unknown): Promise<void> {
    this.log('error', 'usage sink: replacing a producer that keeps failing against a healthy broker', {
      err: String(err),
    });
    this.failuresWhileReady = 0;
    const old = this.producer;
    this.connected = false;
    this.producer = createIdempotentProducer(this.kafka, { retries: this.producerRetries });
    await old.disconnect().catch(() => {});
  }

  /**
   * Backoff, then probe the topic's metadata until every partition has a leader. Returns true when
   * the first probe already found the broker healthy (the failure was not an outage).
   */
  private async waitUntilBrokerReady(attempt: number): Promise<boolean> {
    let delay = Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** Math.min(attempt - 1, 10));
    for (let probe = 0; ; probe++) {
      await sleep(delay);
      if (this.stopped) return false;
      try {
        if (this.admin === null) {
          this.admin = this.kafka.admin();
          await this.admin.connect();
        }
        const meta = await this.admin.fetchTopicMetadata({ topics: [this.topic] });
        const parts = meta.topics[0]?.partitions ?? [];
        if (parts.length > 0 && parts.every((p) => p.leader >= 0)) return probe === 0;
      } catch {
        const admin = this.admin;
        this.admin = null;
        await admin?.disconnect().catch(() => {});
      }
      delay = Math.min(this.retryMaxMs, delay * 2);
    }
  }
}
