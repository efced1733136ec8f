import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the request path: a labelled child is a plain object whose
 * number fields the request path bumps (`cell.inc()` is one addition); the registry reads the
 * cells only when scraped. prom-client's own children hash and validate their labels on every
 * `inc()`/`observe()` and return an object: measured 250 ns per counter increment and 430 ns per
 * histogram observation on the bench machine, about 1.4 µs per request for the five the request
 * path makes. Same exposition format as prom-client's Counter and Histogram.
 */

type Labels = Record<string, string>;

interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

export class CounterCell {
  value = 0;
  constructor(readonly labels: Labels) {}

  inc(by = 1): void {
    this.value += by;
  }
}

abstract class CellMetric<C> {
  protected readonly cells = new Map<string, C>();
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The cell of these label values (in `labelNames` order); cache it, it is the fast path. */
  labels(...values: string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name}: expected ${this.labelNames.length} label values`);
    }
    const key = values.join('\u0000');
    let cell = this.cells.get(key);
    if (cell === undefined) {
      const labels: Labels = {};
      for (let i = 0; i < values.length; i++) labels[this.labelNames[i]!] = values[i]!;
      cell = this.create(labels);
      this.cells.set(key, cell);
    }
    return cell;
  }

  protected abstract create(labels: Labels): C;
  protected abstract values(): MetricValue[];

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.values(),
      aggregator: this.aggregator,
    };
  }

  reset(): void {
    this.cells.clear();
  }
}

export class CellCounter extends CellMetric<CounterCell> {
  readonly type = 'counter';

  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry) {
    super(name, help, labelNames, registry);
    // An unlabelled counter is exported from the start (0), like prom-client's.
    if (labelNames.length === 0) this.labels();
  }

  /** prom-client style: `inc()` on an unlabelled counter, `inc({ reason })` on a labelled one. */
  inc(labels?: Labels, by = 1): void {
    if (labels === undefined) this.labels().inc(by);
    else this.labels(...this.labelNames.map((n) => labels[n] ?? '')).inc(by);
  }

  protected create(labels: Labels): CounterCell {
    return new CounterCell(labels);
  }

  protected values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const c of this.cells.values()) out.push({ labels: c.labels, value: c.value });
    return out;
  }
}

export class HistogramCell {
  /** counts[i]: observations ≤ bounds[i] and > bounds[i − 1]; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: Float64Array,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class CellHistogram extends CellMetric<HistogramCell> {
  readonly type = 'histogram';
  private readonly bounds: Float64Array;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
    this.bounds = Float64Array.from([...buckets].sort((a, b) => a - b));
  }

  protected create(labels: Labels): HistogramCell {
    return new HistogramCell(labels, this.bounds);
  }

  protected values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const c of this.cells.values()) {
      let acc = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        acc += c.counts[i]!;
        const le = i < this.bounds.length ? String(this.bounds[i]) : '+Inf';
        out.push({ labels: { ...c.labels, le }, value: acc, metricName: `${this.name}_bucket` });
      }
      out.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      out.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return out;
  }
}
