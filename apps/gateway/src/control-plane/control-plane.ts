import type { Logger } from 'pino';
import type { GatewayMetrics } from '../metrics.ts';
import type { TargetRegistry } from '../proxy/upstream.ts';
import { compileSnapshot, type QuarantineEntry, type Snapshot } from './compile-snapshot.ts';
import { LastGoodRows } from './last-good-rows.ts';
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
  /** Called after each applied snapshot with the one it replaced (the automatic rollback's probation). */
  onApplied?: (previous: Snapshot | null, next: Snapshot) => void;
}

/**
 * Holds the current snapshot. Loads at start, reloads on NOTIFY (coalesced) and on a periodic
 * resync. Rows that fail validation are quarantined one by one (compileSnapshot): each is
 * counted and logged once per change of its problems, and every other change applies. While
 * Postgres is down the gateway keeps serving from the last snapshot.
 */
export class ControlPlane {
  current: Snapshot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopListening: (() => Promise<void>) | null = null;
  private closed = false;
  /** Quarantined rows already reported, with their problems, so each change is logged once. */
  private readonly reported = new Map<string, string>();
  private readonly history: LastGoodRows | null;

  constructor(private readonly opts: ControlPlaneOptions) {
    const load = opts.source.loadRowHistory?.bind(opts.source);
    this.history = load === undefined ? null : new LastGoodRows(load);
  }

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
    const compile = () =>
      compileSnapshot(raw, {
        defaultMaxBodyBytes: this.opts.defaultMaxBodyBytes,
        target: (url, hc) => this.opts.registry.acquire(url, hc),
        previous: this.current,
        ...(this.history === null ? {} : { history: this.history }),
      });
    let next: Snapshot;
    try {
      next = compile();
      // Quarantined rows nothing stands in for: their last good versions from the history, once.
      if (this.history !== null && (await this.lookUpHistory(next.quarantine))) next = compile();
    } catch (err) {
      // Bad rows are quarantined, not thrown: this is a defect in the compiler itself.
      metrics.snapshotsRefused.inc();
      logger.error({ err }, 'control-plane snapshot could not be compiled; keeping the current one');
      return;
    }
    const previous = this.current;
    this.current = next;
    this.opts.registry.retainOnly(new Set(next.targetKeys));
    metrics.snapshotsApplied.inc();
    metrics.snapshotRoutes.set(next.routes.length);
    if (next.version !== null) metrics.configVersion.set(next.version);
    this.reportQuarantine(next.quarantine, next.version);
    this.opts.onApplied?.(previous, next);
  }

  private async lookUpHistory(quarantine: QuarantineEntry[]): Promise<boolean> {
    try {
      return await this.history!.lookUp(quarantine);
    } catch (err) {
      this.opts.logger.warn({ err }, 'configuration history lookup failed; quarantined rows stay unserved');
      return false;
    }
  }

  /** Metrics for every quarantined row; one log line when a row enters, changes or leaves quarantine. */
  private reportQuarantine(entries: QuarantineEntry[], version: number | null): void {
    const { metrics, logger } = this.opts;
    const counts = { api: 0, plan: 0, subscription: 0 };
    const seen = new Set<string>();
    for (const e of entries) {
      counts[e.kind]++;
      const key = `${e.kind}:${e.id}`;
      seen.add(key);
      const fingerprint = JSON.stringify([e.problems, e.servingLastGood]);
      if (this.reported.get(key) === fingerprint) continue;
      this.reported.set(key, fingerprint);
      metrics.configQuarantined.inc({ kind: e.kind });
      logger.error(
        {
          kind: e.kind,
          id: e.id,
          name: e.name,
          problems: e.problems,
          servingLastGood: e.servingLastGood,
          version,
        },
        e.servingLastGood
          ? 'configuration row quarantined: serving its last good version, everything else applies'
          : 'configuration row quarantined: not served, everything else applies',
      );
    }
    for (const key of [...this.reported.keys()]) {
      if (seen.has(key)) continue;
      this.reported.delete(key);
      logger.info({ row: key, version }, 'configuration row left quarantine');
    }
    for (const kind of ['api', 'plan', 'subscription'] as const)
      metrics.configQuarantinedRows.set({ kind }, counts[kind]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.debounce !== null) clearTimeout(this.debounce);
    if (this.stopListening !== null) await this.stopListening().catch(() => {});
    await this.running?.catch(() => {});
  }
}
