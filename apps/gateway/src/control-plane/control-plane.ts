import type { Logger } from 'pino';
import type { GatewayMetrics } from '../metrics.ts';
import type { TargetRegistry } from '../proxy/upstream.ts';
import { compileSnapshot, type Snapshot, SnapshotError } from './compile-snapshot.ts';
import type { ControlPlaneSource } from './types.ts';

export interface ControlPlaneOptions {
  source: ControlPlaneSource;
  registry: TargetRegistry;
  metrics: GatewayMetrics;
  logger: Logger;
  defaultMaxBodyBytes: number;
  /** Full resync period in ms. */
  resyncMs: number;
  /** Coalescing delay for bursts of notifications. */
  debounceMs?: number;
  /** Called when api_keys changed (the key cache drops its entries). */
  onKeysChanged?: () => void;
}

/**
 * Holds the last good snapshot. Loads at start, reloads on NOTIFY (coalesced) and on a periodic
 * resync. A snapshot that fails validation is refused (metric + log) and the last good one
 * stays; while Postgres is down the gateway keeps serving from the last snapshot.
 */
export class ControlPlane {
  current: Snapshot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopListening: (() => Promise<void>) | null = null;
  private closed = false;

  constructor(private readonly opts: ControlPlaneOptions) {}

  /** Loads the first snapshot (throws if it cannot), then follows changes. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.current === null) throw new Error('no valid control-plane snapshot could be loaded');
    this.timer = setInterval(() => void this.refresh(), this.opts.resyncMs);
    this.timer.unref();
    try {
      this.stopListening = await this.opts.source.listen({
        onChange: (table) => this.onChange(table),
        onReconnect: () => this.schedule(),
        onError: (err) => this.opts.logger.warn({ err }, 'control-plane listener error'),
      });
    } catch (err) {
      this.opts.logger.warn({ err }, 'control-plane LISTEN failed; relying on the periodic resync');
    }
  }

  private onChange(table: string): void {
    if (table === 'api_keys') this.opts.onKeysChanged?.();
    if (table !== 'api_keys') this.schedule();
  }

  private schedule(): void {
    if (this.debounce !== null || this.closed) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.refresh();
    }, this.opts.debounceMs ?? 25);
    this.debounce.unref();
  }

  /** One reload; concurrent calls coalesce into at most one more run. Never throws. */
  refresh(): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = this.load().finally(() => {
      this.running = null;
      if (this.again && !this.closed) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.running;
  }

  private async load(): Promise<void> {
    const { metrics, logger } = this.opts;
    let raw: Awaited<ReturnType<ControlPlaneSource['loadSnapshot']>>;
    try {
      raw = await this.opts.source.loadSnapshot();
    } catch (err) {
      metrics.snapshotLoadErrors.inc();
      logger.warn({ err }, 'control-plane load failed; serving the last good snapshot');
      return;
    }
    try {
      const next = compileSnapshot(raw, {
        defaultMaxBodyBytes: this.opts.defaultMaxBodyBytes,
        target: (url, hc) => this.opts.registry.acquire(url, hc),
      });
      this.current = next;
      const keep = new Set(next.targetKeys);
      this.opts.registry.retainOnly(keep);
      metrics.snapshotsApplied.inc();
      metrics.snapshotRoutes.set(next.routes.length);
    } catch (err) {
      metrics.snapshotsRefused.inc();
      const problems = err instanceof SnapshotError ? err.problems : [String(err)];
      logger.error({ problems }, 'control-plane snapshot refused; keeping the last good snapshot');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.debounce !== null) clearTimeout(this.debounce);
    if (this.stopListening !== null) await this.stopListening().catch(() => {});
    await this.running?.catch(() => {});
  }
}
