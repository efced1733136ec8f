export * from './client.ts';
export * from './consumer-lag.ts';
export * from './usage-sink/kafka-usage-sink.ts';
export * from './usage-sink/spool-format.ts';
