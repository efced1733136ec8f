/**
 * Load generator for the fake-key test, run as a child process (its CPU stays out of the test
 * process that measures latencies):
 *   fake-key-flood.ts --port P --path /svc/item --keys 50000 --addresses 127.0.2.1,127.0.2.2 --connections 2
 * sends `keys` well-formed random API keys (valid checksum, unknown to Postgres), each once, as
 * fast as the gateway answers (closed loop), over `connections` keep-alive connections spread
 * over the local `addresses`. Raw sockets and preformatted requests: the generator's own CPU per
 * request stays small next to the gateway's, so on a shared 2-core machine the flood loads the
 * gateway rather than the machine. Prints `ready` once the keys are made, then one JSON line:
 * { sent, ms, statuses }.
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { generateApiKey } from '@tollgate/core';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    path: { type: 'string' },
    keys: { type: 'string' },
    addresses: { type: 'string' },
    connections: { type: 'string' },
  },
});
const port = Number(args.port);
const total = Number(args.keys);
const addresses = args.addresses!.split(',');
const connections = Number(args.connections);
const requests = Array.from(
  { length: total },
  () => `GET ${args.path} HTTP/1.1\r\nhost: api.example\r\nx-api-key: ${generateApiKey('live').key}\r\n\r\n`,
);
const statuses: Record<number, number> = {};
let next = 0;
let answered = 0;

/** One connection: sends a request, reads its answer (status line, Content-Length body), repeats. */
function run(localAddress: string, done: () => void): void {
  const socket: Socket = connect({ host: '127.0.0.1', port, localAddress });
  let buffer = '';
  const send = () => {
    if (next >= total) {
      socket.end();
      done();
      return;
    }
    socket.write(requests[next++]!);
  };
  socket.setEncoding('latin1');
  socket.setNoDelay(true);
  socket.on('connect', send);
  socket.on('error', (err) => {
    process.stderr.write(`flood connection failed: ${err.message}\n`);
    process.exit(1);
  });
  socket.on('data', (d: string) => {
    buffer += d;
    for (;;) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      const status = Number(buffer.slice(9, 12));
      statuses[status] = (statuses[status] ?? 0) + 1;
      answered++;
      buffer = buffer.slice(end + 4 + length);
      send();
    }
  });
}

process.stdout.write('ready\n');
const start = performance.now();
let open = connections;
for (let i = 0; i < connections; i++) {
  run(addresses[i % addresses.length]!, () => {
    if (--open > 0) return;
    const ms = performance.now() - start;
    process.stdout.write(`${JSON.stringify({ sent: answered, ms, statuses })}\n`);
    process.exit(0);
  });
}
