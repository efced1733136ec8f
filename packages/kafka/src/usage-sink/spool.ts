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
  writeSync,
} from 'node:fs';
import { type FileHandle, open as openAsync } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
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
import { lockSpool, unlockSpool } from './spool-lock.ts';

/**
 * UsageSpool: the usage sink's write-ahead log on local disk. Knows nothing of Kafka: it takes
 * serialized events, makes them durable, and hands them back in order to one reader, which
 * acknowledges what it delivered. (OpenMeter's sink keeps the same split: storage and buffer
 * apart from the flush handler.)
 *
 * Writing (`append`, on the request path): O(1), synchronous, never awaits, never does I/O in
 * 'async' mode, never throws. The line (CRC-32 framing, spool-format.ts) is queued; at most every
 * `writeDelayMs` ONE write(2) hands everything queued to the kernel (libuv thread pool, at most
 * one write in flight), appending to the active segment. 'sync' mode writes before returning.
 *
 * Durability: the active segment is fdatasync'ed every `fsyncIntervalMs` if written since, when
 * it is sealed, on flush() and on close(). SIGKILL loses only lines still queued (published since
 * the last write(2) was issued, at most `maxPendingEvents`); an OS crash loses at most the last
 * `fsyncIntervalMs` of writes besides.
 *
 * Reading (`prepare`, `read`, `ack`): the reader position is the acknowledged position. `read`
 * returns the next lines of one segment without moving; `ack` moves past them and records the
 * position in `committed` (rewritten in place); a sealed segment is deleted once read to its end.
 * A restarted spool starts from `committed`: what the previous process left is handed out again
 * (`inherited`), first and in order. It never appends to an old segment, so a torn last line stays
 * at the end of a sealed segment, where it is skipped and counted (`corrupt`).
 *
 * Bounds: memory holds at most `maxPendingEvents` queued lines plus one read buffer; disk at most
 * `maxSpoolBytes`. A line over a bound is dropped, counted by reason and logged (at most once per
 * `dropLogIntervalMs`).
 */

export type SpoolLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type SpoolLogger = (level: SpoolLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export type DropReason = 'memory' | 'disk' | 'write_error' | 'closed' | 'serialize';

export interface UsageSpoolOptions {
  /** Directory of the spool; created if missing. One spool (one process) per directory. */
  dir: string;
  /** Default 100 ms: the bound on what an OS crash can lose. 0 = fdatasync after every write. */
  fsyncIntervalMs?: number;
  /**
   * 'async' (default): append() queues the line in memory and one write(2) at most every
   * `writeDelayMs` hands the queue to the kernel from the libuv thread pool, so a slow disk never
   * blocks the event loop. SIGKILL loses the lines not yet written.
   * 'sync': append() itself writes with a synchronous write(2): SIGKILL loses nothing, but a
   * stalled disk stalls the event loop (measured: tens of ms under disk contention).
   */
  writeMode?: 'async' | 'sync';
  /**
   * 'async' mode: how long the first queued line waits for others before the write, in ms.
   * Default 5. Each write is a hop to the thread pool and back; under load, writing every turn
   * cost more CPU than anything else the sink does. 0 = write at the end of the current turn.
   */
  writeDelayMs?: number;
  /** Memory bound in 'async' mode: lines waiting for their write. Default 10 000. */
  maxPendingEvents?: number;
  /**
   * A segment is sealed (and deleted once read to its end) by the first write that finds it at
   * this size or more, so it may exceed it by one write. Default 8 MiB.
   */
  segmentBytes?: number;
  /** Disk bound. Default 1 GiB. Must be at least 2 segments. */
  maxSpoolBytes?: number;
  /** Read buffer. Default 1 MiB; an event must be smaller. */
  readBufferBytes?: number;
  /** Called after lines were appended: `unread` lines are now waiting for the reader. */
  onAppend?: (unreadBefore: number, unread: number) => void;
  log?: SpoolLogger;
  dropLogIntervalMs?: number;
  /** Clock for log throttling and the age of unread lines; tests may inject. */
  now?: () => number;
}

export interface SpoolPosition {
  seq: number;
  offset: number;
}

/** Lines handed to the reader; `records[].line` are views valid until the next `read`. */
export interface SpoolChunk {
  records: SpoolRecord[];
  /** Lines skipped as torn or corrupt. */
  corrupt: number;
  /** Written by a previous process: every line in it is a replay. */
  inherited: boolean;
  /** Where the chunk starts. */
  start: SpoolPosition;
  /** Bytes the chunk covers, and lines (for the depth count; a torn tail is not a line). */
  consumed: number;
  lines: number;
  segment: string;
  /** The chunk ends inside an oversized line: the next read skips to the following newline. */
  resyncAfter: boolean;
}

/** What the reader finds: nothing, fresh lines in the active segment, or a sealed backlog. */
export type SpoolReadable = 'empty' | 'active' | 'backlog';

export interface SpoolStats {
  /** Lines appended (all accepted events). */
  spooled: number;
  dropped: number;
  droppedByReason: Record<DropReason, number>;
  /** Lines skipped because torn or corrupt. */
  corrupt: number;
  /** Bytes in the segment files. */
  spoolBytes: number;
  /** Lines not yet acknowledged by the reader. */
  spoolDepth: number;
  /** Lines queued for their write. */
  pending: number;
}

interface Segment {
  seq: number;
  path: string;
  /** Bytes written (ours) or found (a previous process's). */
  size: number;
  sealed: boolean;
  /** Written by a previous process. */
  inherited: boolean;
}

interface Waiter {
  seq: number;
  offset: number;
  resolve: () => void;
}

const noopLog: SpoolLogger = () => {};

export class UsageSpool {
  private readonly dir: string;
  private readonly fsyncIntervalMs: number;
  private readonly writeMode: 'async' | 'sync';
  private readonly writeDelayMs: number;
  private readonly maxPendingEvents: number;
  private readonly segmentBytes: number;
  private readonly maxSpoolBytes: number;
  private readonly readBuffer: Buffer;
  private readonly onAppend: (unreadBefore: number, unread: number) => void;
  private readonly log: SpoolLogger;
  private readonly dropLogIntervalMs: number;
  private readonly clock: () => number;

  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private writeScheduled = false;
  private writeIdleWaiters: (() => void)[] = [];

  private readonly segments: Segment[] = [];
  private active!: Segment;
  private fd = -1;
  private committedFd = -1;
  private needRoll = false;
  private dirty = false;
  private fsyncTimer: NodeJS.Timeout | null = null;
  private fsyncInFlight: Promise<void> | null = null;
  private committedWrite: Promise<void> = Promise.resolve();
  private fdsClosed = false;
  private accepting = true;

  /** Reader position = acknowledged position. */
  private readSeq = 0;
  private readOffset = 0;
  private readHandle: { seq: number; fh: FileHandle } | null = null;
  private resync = false;
  private unreadLines = 0;
  private firstUnreadAtMs = 0;
  private waiters: Waiter[] = [];

  private readonly counters = { spooled: 0, corrupt: 0, spoolBytes: 0, spoolDepth: 0 };
  private readonly drops: Record<DropReason, number> = {
    memory: 0,
    disk: 0,
    write_error: 0,
    closed: 0,
    serialize: 0,
  };
  private lastDropLogAt = Number.NEGATIVE_INFINITY;
  private dropsSinceLog = 0;

  private constructor(opts: UsageSpoolOptions) {
    this.dir = resolvePath(opts.dir);
    this.fsyncIntervalMs = opts.fsyncIntervalMs ?? 100;
    this.writeMode = opts.writeMode ?? 'async';
    this.writeDelayMs = opts.writeDelayMs ?? 5;
    this.maxPendingEvents = opts.maxPendingEvents ?? 10_000;
    this.segmentBytes = opts.segmentBytes ?? 8 * 1024 * 1024;
    this.maxSpoolBytes = opts.maxSpoolBytes ?? 1024 * 1024 * 1024;
    if (this.maxSpoolBytes < 2 * this.segmentBytes)
      throw new RangeError('maxSpoolBytes must be >= 2 segments');
    this.readBuffer = Buffer.allocUnsafe(opts.readBufferBytes ?? 1024 * 1024);
    this.onAppend = opts.onAppend ?? (() => {});
    const log = opts.log ?? noopLog;
    // A throwing logger must not make append() throw.
    this.log = (level, msg, fields) => {
      try {
        log(level, msg, fields);
      } catch {
        // The logger's own failure has nowhere else to go.
      }
    };
    this.dropLogIntervalMs = opts.dropLogIntervalMs ?? 1000;
    this.clock = opts.now ?? Date.now;
  }

  /** Opens (and locks) the directory, finding what a previous process left to read. */
  static open(opts: UsageSpoolOptions): UsageSpool {
    const spool = new UsageSpool(opts);
    spool.openDir();
    if (spool.fsyncIntervalMs > 0) {
      spool.fsyncTimer = setInterval(() => void spool.fsyncNow(), spool.fsyncIntervalMs);
      spool.fsyncTimer.unref();
    }
    return spool;
  }

  // ---------------------------------------------------------------------------------------------
  // writing (the request path)

  /** Appends one serialized event (JSON without newlines). Never throws; a refusal is counted. */
  append(json: string): void {
    if (!this.accepting) {
      this.drop('closed');
      return;
    }
    const line = encodeLine(json);
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

  /** Counts (and logs, throttled) an event that never reached the spool. */
  drop(reason: DropReason, err?: unknown): void {
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

  /** Later appends are dropped as 'closed'. */
  stopAccepting(): void {
    this.accepting = false;
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
  waitForWrites(): Promise<void> {
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
    const before = this.unreadLines;
    this.unreadLines += n;
    if (before === 0) this.firstUnreadAtMs = this.clock();
    this.onAppend(before, this.unreadLines);
  }

  /** Every line appended so far is written and fdatasync'ed (durable locally). */
  async flush(): Promise<void> {
    await this.waitForWrites();
    await this.fsyncNow();
  }

  private fsyncNow(): Promise<void> {
    if (this.fsyncInFlight !== null) return this.fsyncInFlight.then(() => this.fsyncNow());
    if (!this.dirty || this.fd < 0 || this.fdsClosed) return Promise.resolve();
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
  // segments

  private openDir(): void {
    mkdirSync(this.dir, { recursive: true });
    lockSpool(this.dir);
    const seqs = readdirSync(this.dir)
      .map(parseSegmentName)
      .filter((s): s is number => s !== null)
      .sort((a, b) => a - b);
    const committedPath = join(this.dir, COMMITTED_FILE);
    closeSync(openSync(committedPath, 'a'));
    let committed: { seq: number; offset: number } | null = null;
    try {
      committed = decodeCommitted(readFileSync(committedPath, 'latin1'));
    } catch {
      committed = null; // unreadable: from the oldest segment (duplicates, never loss)
    }
    this.committedFd = openSync(committedPath, 'r+');
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
    fdatasync(oldFd, (err) => {
      if (err !== null)
        this.log('error', 'usage sink: fdatasync of a sealed segment failed', { err: String(err) });
      close(oldFd, () => {});
    });
  }

  private persistCommitted(): void {
    const record = encodeCommitted(this.readSeq, this.readOffset);
    const fd = this.committedFd;
    // Serialized, fire-and-forget: a lost or stale record only means re-sending (duplicates).
    this.committedWrite = this.committedWrite.then(() => {
      if (this.fdsClosed) return;
      try {
        writeSync(fd, record, 0, record.length, 0);
      } catch (err) {
        this.log('warn', 'usage sink: could not record the committed position', { err: String(err) });
      }
    });
  }

  private segmentIndex(seq: number): number {
    return this.segments.findIndex((s) => s.seq === seq);
  }

  // ---------------------------------------------------------------------------------------------
  // reading

  /** Lines appended by this process that the reader has not acknowledged yet. */
  unread(): number {
    return this.unreadLines;
  }

  /** When the oldest of the unread lines was appended (clock of `now`). */
  firstUnreadAt(): number {
    return this.firstUnreadAtMs;
  }

  /** The position after everything written so far. */
  end(): SpoolPosition {
    return { seq: this.active.seq, offset: this.active.size };
  }

  /** Whether the reader acknowledged everything up to `target`. */
  reached(target: SpoolPosition): boolean {
    return this.readSeq > target.seq || (this.readSeq === target.seq && this.readOffset >= target.offset);
  }

  /** Whether someone waits for the reader (drain): no reason to linger then. */
  hasWaiters(): boolean {
    return this.waiters.length > 0;
  }

  /** Resolves true once the reader acknowledged up to `target`, false at the deadline. */
  waitForAck(target: SpoolPosition, timeoutMs: number): Promise<boolean> {
    if (this.reached(target)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        ...target,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
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

  /**
   * Moves past sealed segments read to their end (deleting them) and says what is left to read.
   */
  async prepare(): Promise<SpoolReadable> {
    for (;;) {
      const idx = this.segmentIndex(this.readSeq);
      const seg = this.segments[idx];
      if (seg === undefined) throw new Error(`usage spool: reader lost its segment ${this.readSeq}`);
      if (this.readOffset < seg.size) return seg.sealed ? 'backlog' : 'active';
      if (!seg.sealed) {
        this.notifyWaiters();
        return 'empty';
      }
      await this.finishSegment(idx);
    }
  }

  private async finishSegment(idx: number): Promise<void> {
    const seg = this.segments[idx]!;
    const next = this.segments[idx + 1];
    if (next === undefined) throw new Error('usage spool: a sealed segment has no successor');
    await this.closeReadHandle(seg.seq);
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

  private async closeReadHandle(seq?: number): Promise<void> {
    const handle = this.readHandle;
    if (handle === null || (seq !== undefined && handle.seq !== seq)) return;
    this.readHandle = null;
    await handle.fh.close().catch((err: unknown) => {
      this.log('warn', 'usage sink: closing a spool read handle failed', { err: String(err) });
    });
  }

  /**
   * Up to `maxRecords` lines from the reader position, within one segment, without moving it:
   * `ack` does. Call after `prepare()` found something ('active' or 'backlog').
   */
  async read(maxRecords: number): Promise<SpoolChunk> {
    const seg = this.segments[this.segmentIndex(this.readSeq)];
    if (seg === undefined) throw new Error(`usage spool: reader lost its segment ${this.readSeq}`);
    const start = { seq: this.readSeq, offset: this.readOffset };
    const base = { start, inherited: seg.inherited, segment: seg.path };
    const end = seg.size;
    if (this.readHandle === null || this.readHandle.seq !== seg.seq) {
      await this.closeReadHandle();
      this.readHandle = { seq: seg.seq, fh: await openAsync(seg.path, 'r') };
    }
    const want = Math.min(this.readBuffer.length, end - this.readOffset);
    const { bytesRead } = await this.readHandle.fh.read(this.readBuffer, 0, want, this.readOffset);
    const atEnd = seg.sealed && this.readOffset + bytesRead >= end;
    let skip = 0;
    if (this.resync) {
      // After an oversized line: drop bytes up to and including the next newline.
      const nl = this.readBuffer.subarray(0, bytesRead).indexOf(10);
      if (nl < 0) {
        return { ...base, records: [], corrupt: 0, consumed: bytesRead, lines: 0, resyncAfter: true };
      }
      skip = nl + 1;
    }
    const parsed = parseChunk(this.readBuffer.subarray(skip), bytesRead - skip, maxRecords, atEnd);
    // Oversized only if the line starts the buffer and fills it; a partial line after a skipped
    // one is read again from its start by the next read.
    if (parsed.oversized && skip === 0 && bytesRead === this.readBuffer.length) {
      return { ...base, records: [], corrupt: 1, consumed: bytesRead, lines: 1, resyncAfter: true };
    }
    // A torn tail has no newline, so it was never counted as a line; other corrupt lines were.
    const tornTail =
      atEnd && parsed.consumed === bytesRead - skip && !this.endsWithNewline(bytesRead) ? 1 : 0;
    return {
      ...base,
      records: parsed.records,
      corrupt: parsed.corrupt,
      consumed: skip + parsed.consumed,
      lines: parsed.records.length + parsed.corrupt - tornTail,
      resyncAfter: false,
    };
  }

  private endsWithNewline(len: number): boolean {
    return len > 0 && this.readBuffer[len - 1] === 10;
  }

  /** Acknowledges a chunk from `read`: the reader moves past it, durably (`committed`). */
  ack(chunk: SpoolChunk): void {
    if (chunk.start.seq !== this.readSeq || chunk.start.offset !== this.readOffset) {
      throw new Error('usage spool: ack of a chunk that is not the next one');
    }
    if (chunk.corrupt > 0) {
      this.counters.corrupt += chunk.corrupt;
      this.log('warn', 'usage sink: skipped corrupt or torn spool lines', {
        lines: chunk.corrupt,
        segment: chunk.segment,
        offset: chunk.start.offset,
      });
    }
    this.resync = chunk.resyncAfter;
    this.counters.spoolDepth -= chunk.lines;
    if (!chunk.inherited) {
      this.unreadLines = Math.max(0, this.unreadLines - chunk.lines);
      if (this.unreadLines > 0) this.firstUnreadAtMs = this.clock();
    }
    this.readOffset += chunk.consumed;
    this.persistCommitted();
    this.notifyWaiters();
  }

  // ---------------------------------------------------------------------------------------------
  // stats and closing

  private droppedTotal(): number {
    return (
      this.drops.memory + this.drops.disk + this.drops.write_error + this.drops.closed + this.drops.serialize
    );
  }

  stats(): SpoolStats {
    return {
      spooled: this.counters.spooled,
      dropped: this.droppedTotal(),
      droppedByReason: { ...this.drops },
      corrupt: this.counters.corrupt,
      spoolBytes: this.counters.spoolBytes,
      spoolDepth: Math.max(0, this.counters.spoolDepth),
      pending: this.pending.length,
    };
  }

  /**
   * Stops accepting, waits for the write in flight, fdatasyncs and closes the files; what was not
   * acknowledged stays for the next process.
   */
  async close(): Promise<void> {
    if (this.fdsClosed) return;
    this.accepting = false;
    await this.waitForWrites();
    if (this.fsyncTimer !== null) clearInterval(this.fsyncTimer);
    await this.fsyncNow();
    await this.committedWrite;
    this.fdsClosed = true;
    for (const fd of [this.fd, this.committedFd]) {
      try {
        closeSync(fd);
      } catch (err) {
        this.log('warn', 'usage sink: closing a spool file failed', { err: String(err) });
      }
    }
    await this.closeReadHandle();
    unlockSpool(this.dir);
  }
}
