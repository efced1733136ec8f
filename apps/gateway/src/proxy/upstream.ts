import { Pool } from 'undici';
import type { EgressPolicy } from './egress-policy.ts';
import { guardedConnector, type UpstreamForbiddenError } from './guarded-connect.ts';

export interface UpstreamOptions {
  /** Connections per target. */
  connections: number;
  connectTimeoutMs: number;
  /** Consecutive connection failures that mark a target down (passive health). */
  passiveFailures: number;
  /** Consecutive failures (connection, timeout, 5xx) that open the circuit breaker. */
  breakerFailures: number;
  /** How long an open breaker (or a passively downed target without health check) stays out. */
  breakerOpenMs: number;
  /** Notified when a target changes availability (metrics, logs). */
  onStateChange?: (target: Target, state: 'down' | 'up' | 'breaker_open' | 'breaker_closed') => void;
  /** Which addresses connections may go to (checked on every connect). */
  egress: EgressPolicy;
  /** Notified of every connection the egress policy refused (metrics, logs). */
  onEgressRefused?: (target: Target, err: UpstreamForbiddenError) => void;
}

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;

/**
 * One upstream origin: its connection pool, in-flight count, passive and active health, and a
 * circuit breaker (closed → open after N consecutive failures → half-open after a cooldown, one
 * probe request decides).
 */
export class Target {
  readonly key: string;
  readonly origin: string;
  /** The target URL's path without trailing slash ('' for '/'): prefixed to upstream paths. */
  readonly basePath: string;
  /** host[:port] of the target URL: the default upstream Host header. */
  readonly host: string;
  readonly pool: Pool;
  /** The pool's size (admission control gives each caller a share of it). */
  readonly connections: number;
  healthCheckPath: string | null;
  inflight = 0;
  private connFailures = 0;
  private failures = 0;
  /** Set by active health checks (or passive health when a health check will bring it back). */
  activeDown = false;
  private downUntil = 0;
  private breaker = CLOSED;
  private openUntil = 0;
  private probing = false;

  constructor(
    url: URL,
    healthCheckPath: string | null,
    private readonly opts: UpstreamOptions,
  ) {
    this.key = url.href;
    this.origin = url.origin;
    this.basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
    this.host = url.host;
    this.healthCheckPath = healthCheckPath;
    this.connections = opts.connections;
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.pool = new Pool(url.origin, {
      connections: opts.connections,
      pipelining: 1,
      connect: guardedConnector({
        policy: opts.egress,
        hostname,
        port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port),
        timeoutMs: opts.connectTimeoutMs,
        onRefused: (err) => opts.onEgressRefused?.(this, err),
      }),
      keepAliveTimeout: 4_000,
    });
  }

  isAvailable(now: number): boolean {
    if (this.activeDown || this.downUntil > now) return false;
    if (this.breaker === OPEN) {
      if (now < this.openUntil) return false;
      this.breaker = HALF_OPEN;
      this.probing = false;
    }
    if (this.breaker === HALF_OPEN) return !this.probing;
    return true;
  }

  get breakerOpen(): boolean {
    return this.breaker !== CLOSED;
  }

  onDispatch(): void {
    this.inflight++;
    if (this.breaker === HALF_OPEN) this.probing = true;
  }

  onSuccess(): void {
    this.inflight--;
    this.connFailures = 0;
    this.failures = 0;
    if (this.breaker !== CLOSED) {
      this.breaker = CLOSED;
      this.probing = false;
      this.opts.onStateChange?.(this, 'breaker_closed');
    }
  }

  /** An upstream answer that counts as a failure for the breaker (5xx, timeout). */
  onFailure(now: number): void {
    this.inflight--;
    this.connFailures = 0;
    this.recordFailure(now);
  }

  onConnectionFailure(now: number): void {
    this.inflight--;
    this.connFailures++;
    if (this.connFailures >= this.opts.passiveFailures && !this.activeDown && this.downUntil <= now) {
      if (this.healthCheckPath !== null) this.activeDown = true;
      else this.downUntil = now + this.opts.breakerOpenMs;
      this.opts.onStateChange?.(this, 'down');
    }
    this.recordFailure(now);
  }

  /** Neither success nor failure (client went away, request body too large). */
  onNeutral(): void {
    this.inflight--;
    this.probing = false;
  }

  private recordFailure(now: number): void {
    this.failures++;
    if (
      this.breaker === HALF_OPEN ||
      (this.breaker === CLOSED && this.failures >= this.opts.breakerFailures)
    ) {
      this.breaker = OPEN;
      this.openUntil = now + this.opts.breakerOpenMs;
      this.probing = false;
      this.opts.onStateChange?.(this, 'breaker_open');
    }
  }

  /** Active health check result. */
  setHealthy(healthy: boolean): void {
    if (healthy && this.activeDown) {
      this.activeDown = false;
      this.connFailures = 0;
      this.opts.onStateChange?.(this, 'up');
    } else if (!healthy && !this.activeDown) {
      this.activeDown = true;
      this.opts.onStateChange?.(this, 'down');
    }
  }
}

const MAX_WEIGHT = 100;

/**
 * The targets of one API and the load-balancing choice between them. Round robin walks a
 * rotation where each target appears `weight` times (interleaved); least outstanding picks the
 * available target with the fewest in-flight requests per unit of weight (ties: rotation order).
 */
export class UpstreamGroup {
  private rr = 0;
  private readonly rotation: Target[];
  private readonly weights: Map<Target, number>;

  constructor(
    readonly targets: Target[],
    private readonly leastOutstanding: boolean,
    weights: number[] = [],
  ) {
    this.weights = new Map(targets.map((t, i) => [t, Math.min(MAX_WEIGHT, Math.max(1, weights[i] ?? 1))]));
    const rotation: Target[] = [];
    const left = targets.map((t) => this.weights.get(t)!);
    for (let added = true; added; ) {
      added = false;
      for (let i = 0; i < targets.length; i++) {
        if (left[i]! > 0) {
          rotation.push(targets[i]!);
          left[i]!--;
          added = true;
        }
      }
    }
    this.rotation = rotation;
  }

  /** Picks an available target other than `exclude`; null when none is available. */
  pick(now: number, exclude: Target | null): Target | null {
    const rotation = this.rotation;
    const n = rotation.length;
    if (n === 0) return null;
    const start = this.rr++ % n;
    if (this.rr > 1_000_000_000) this.rr = 0;
    let best: Target | null = null;
    let bestLoad = 0;
    for (let i = 0; i < n; i++) {
      const t = rotation[(start + i) % n]!;
      if (t === exclude || !t.isAvailable(now)) continue;
      if (!this.leastOutstanding) return t;
      const load = t.inflight / this.weights.get(t)!;
      if (best === null || load < bestLoad) {
        best = t;
        bestLoad = load;
      }
    }
    return best;
  }
}

/** Targets by URL, shared across snapshots so pools and health survive a config reload. */
export class TargetRegistry {
  private readonly targets = new Map<string, Target>();
  constructor(readonly opts: UpstreamOptions) {}

  acquire(url: URL, healthCheckPath: string | null): Target {
    let t = this.targets.get(url.href);
    if (t === undefined) {
      t = new Target(url, healthCheckPath, this.opts);
      this.targets.set(url.href, t);
    } else {
      t.healthCheckPath = healthCheckPath;
    }
    return t;
  }

  /** Closes (gracefully) the pools of targets no snapshot uses any more. */
  retainOnly(keys: Set<string>): void {
    for (const [key, t] of this.targets) {
      if (!keys.has(key)) {
        this.targets.delete(key);
        t.pool.close().catch(() => {});
      }
    }
  }

  all(): IterableIterator<Target> {
    return this.targets.values();
  }

  async close(): Promise<void> {
    const pools = [...this.targets.values()].map((t) => t.pool.close().catch(() => {}));
    this.targets.clear();
    await Promise.all(pools);
  }
}
