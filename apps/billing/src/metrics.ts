/**
 * A few in-process counters rendered in the Prometheus text format at GET /metrics. Enough for
 * alerting on dead letters, retries and drift without another dependency.
 */
export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();

  define(name: string, help: string): void {
    if (!this.counters.has(name)) this.counters.set(name, { help, values: new Map() });
  }

  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    this.define(name, name);
    const key = Object.entries(labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
      .join(',');
    const values = this.counters.get(name)!.values;
    values.set(key, (values.get(key) ?? 0) + by);
  }

  get(name: string, labels: Record<string, string> = {}): number {
    const key = Object.entries(labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    return this.counters.get(name)?.values.get(key) ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, { help, values }] of this.counters) {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const [key, value] of values) out.push(`${name}${key === '' ? '' : `{${key}}`} ${value}`);
    }
    return `${out.join('\n')}\n`;
  }
}

export function createBillingMetrics(): Metrics {
  const m = new Metrics();
  m.define('tollgate_billing_meter_events_sent_total', 'Meter events Stripe accepted');
  m.define('tollgate_billing_meter_event_retries_total', 'Meter event attempts retried (429, 5xx, timeouts)');
  m.define(
    'tollgate_billing_meter_events_dead_letter_total',
    'Usage windows that could not be reported (alert)',
  );
  m.define(
    'tollgate_billing_usage_negative_delta_total',
    'Windows whose ClickHouse total fell below what was reported',
  );
  m.define('tollgate_billing_webhooks_total', 'Stripe webhooks by outcome');
  m.define('tollgate_billing_suspensions_total', 'Consumers suspended after the grace period');
  return m;
}
