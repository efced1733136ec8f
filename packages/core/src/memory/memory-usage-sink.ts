import type { UsageEventSink } from '../ports.ts';
import type { UsageEventV1 } from '../usage-event.ts';

/** In-memory twin of the Kafka sink, for unit tests. */
export class MemoryUsageSink implements UsageEventSink {
  readonly events: UsageEventV1[] = [];
  publish(event: UsageEventV1): void {
    this.events.push(event);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
