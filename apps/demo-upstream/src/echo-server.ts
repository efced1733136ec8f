import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * The demo upstream: answers every request with a JSON echo of what it received (method,
 * path, headers, body size). The demo plans sell it; the gateway tests use it to see exactly
 * what the gateway forwarded.
 */
export function createEchoServer(): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      if (req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      const body = JSON.stringify({
        method: req.method,
        path: req.url,
        headers: req.headers,
        bodyBytes: bytes,
        servedAt: new Date().toISOString(),
      });
      res
        .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        .end(body);
    });
  });
}
