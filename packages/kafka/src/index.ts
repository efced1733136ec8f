export * from './client.ts';
export * from './compression.ts';
export * from './consumer-lag.ts';
export * from './usage-sink/kafka-usage-sink.ts';
export * from './usage-sink/spool.ts';
export * from './usage-sink/spool-format.ts';
export * from './usage-sink/usage-event-json.ts';
export * from './usage-topic/usage-record.ts';
