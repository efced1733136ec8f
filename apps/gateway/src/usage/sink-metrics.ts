import { Gauge } from 'prom-client';
import type { GatewayMetrics } from '../metrics.ts';

/** The subset of KafkaUsageSink's counters the gateway exports. */
export interface SinkStatsSource {
  stats(): {
    spoolDepth: number;
    spoolBytes: number;
    sent: number;
    dropped: number;
    sendErrors: number;
    records: number;
    /** Produce requests made to Kafka (the bench reports them per 1,000 requests). */
    produceRequests: number;
    kafkaUp: boolean;
  };
}

/** Gauges read from the sink's own counters at scrape time (nothing on the request path). */
export function registerSinkMetrics(metrics: GatewayMetrics, sink: SinkStatsSource): void {
  const gauge = (name: string, help: string, read: (s: ReturnType<SinkStatsSource['stats']>) => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        this.set(read(sink.stats()));
      },
    });
  gauge(
    'tollgate_gateway_spool_depth',
    'Usage events in the local spool not yet acked by Kafka',
    (s) => s.spoolDepth,
  );
  gauge('tollgate_gateway_spool_bytes', 'Bytes in the usage-event spool', (s) => s.spoolBytes);
  gauge('tollgate_gateway_usage_events_sent', 'Usage events acked by Kafka (since start)', (s) => s.sent);
  gauge(
    'tollgate_gateway_usage_events_dropped',
    'Usage events dropped by the sink (disk bound, write errors)',
    (s) => s.dropped,
  );
  gauge(
    'tollgate_gateway_kafka_send_errors',
    'Failed Kafka sends (retried from the spool)',
    (s) => s.sendErrors,
  );
  gauge(
    'tollgate_gateway_usage_records_sent',
    'Kafka records acked, each a batch of usage events (since start)',
    (s) => s.records,
  );
  gauge(
    'tollgate_gateway_kafka_produce_requests',
    'Produce requests the usage sink made to Kafka (since start; the bench reports them per 1,000 requests)',
    (s) => s.produceRequests,
  );
  gauge('tollgate_gateway_kafka_up', '1 when the last Kafka send or probe succeeded', (s) =>
    s.kafkaUp ? 1 : 0,
  );
}
