// Child process for the crash test: publishes usage events through a KafkaUsageSink as fast as a
// gateway under load would (bursts every few ms) and, AFTER each publish() returns, records the
// id with a synchronous write to the report file. The test SIGKILLs it at a random moment.
import { closeSync, openSync, writeSync } from 'node:fs';
import { createKafka } from '../client.ts';
import { KafkaUsageSink } from '../usage-sink/kafka-usage-sink.ts';
import { makeUsageEvent } from './usage-events.ts';

const [broker, spoolDir, reportFile, writeMode = 'async'] = process.argv.slice(2);
if (broker === undefined || spoolDir === undefined || reportFile === undefined) throw new Error('usage');
const kafka = createKafka({
  brokers: [broker],
  clientId: 'publish-worker',
  retries: 0,
  connectionTimeoutMs: 200,
});
const sink = KafkaUsageSink.open({
  kafka,
  spoolDir,
  topic: 'tollgate.usage.v2.crash',
  fsyncIntervalMs: 100,
  writeMode: writeMode === 'sync' ? 'sync' : 'async',
});
const report = openSync(reportFile, 'a');
let i = 0;
const tick = () => {
  for (let k = 0; k < 20; k++) {
    const ev = makeUsageEvent(`c${i % 13}`, i);
    i += 1;
    sink.publish(ev);
    writeSync(report, `${ev.id}\n`);
  }
  setTimeout(tick, 2);
};
tick();
process.once('SIGTERM', () => {
  closeSync(report);
  process.exit(0);
});
