import { createEchoServer } from './echo-server.ts';

const port = Number(process.argv[2] ?? 4010);
const server = createEchoServer();
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`demo upstream listening on http://127.0.0.1:${port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
