/**
 * The peers of the gateway benchmark, one per process (the runner pins each with taskset):
 *
 *   tsx bench/gateway/servers.ts upstream <port>                  small fixed JSON body
 *   tsx bench/gateway/servers.ts bare <port> <upstreamPort>       bare undici proxy, no policies
 *   tsx bench/gateway/servers.ts fastify <port> <upstreamPort>    @fastify/http-proxy, no policies
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { Pool } from 'undici';

const [mode, portArg, upstreamPortArg] = process.argv.slice(2);
const port = Number(portArg);
const upstream = `http://127.0.0.1:${upstreamPortArg}`;
const BODY = Buffer.from(JSON.stringify({ ok: true, message: 'hello from the benchmark upstream', n: 42 }));
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  // Node answered 100-continue already (and undici refuses an Expect header).
  'expect',
]);

function withoutHopByHop(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>) {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

if (mode === 'upstream') {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
      res.end(BODY);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1');
} else if (mode === 'bare') {
  // The smallest correct streaming proxy: undici Pool (same size as the gateway's default),
  // request body streamed up, response streamed straight into the client's response with
  // Pool#stream (no intermediate Readable), hop-by-hop headers dropped.
  const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
  const server = createServer((req, res) => {
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool
      .stream(
        {
          path: req.url ?? '/',
          method: (req.method ?? 'GET') as 'GET',
          headers: withoutHopByHop(req.headers),
          body: hasBody ? req : null,
          opaque: res,
        },
        ({ statusCode, headers, opaque }) => {
          const out = opaque as ServerResponse;
          out.writeHead(statusCode, withoutHopByHop(headers));
          return out;
        },
      )
      .catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1');
} else if (mode === 'fastify') {
  // @fastify/http-proxy with its defaults (undici Pool of 128 connections), no hooks, no logger.
  const app = Fastify({ logger: false });
  await app.register(proxy, { upstream, prefix: '/' });
  await app.listen({ port, host: '127.0.0.1' });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(1);
}
