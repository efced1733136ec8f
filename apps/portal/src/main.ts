import { createServer, type IncomingMessage, request as loopbackRequest } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { answerClientError, writeRawProblem } from '@tollgate/service-kit';
import { getConfig, setProductionMode } from './config.ts';
import { methodNotAllowedProblem } from './server/rest/problem-response.ts';

/**
 * The portal's server: Next.js's request handler behind a node:http server that answers the
 * methods Next cannot. Next builds a WHATWG Request for every request, which throws for TRACE
 * (a 500), answers 400 to any method outside its seven and drops CONNECT's socket, and node:http
 * refuses methods its parser does not know (TRACK) with a bare 400; here each of them gets a
 * problem+json 405 with `Allow`. Everything else, HEAD and OPTIONS included, is Next's (route
 * handlers declare their own methods: server/rest/handler.ts).
 */
const config = getConfig();
setProductionMode();
const { default: next } = await import('next');

/** The methods Next.js routes (its HTTP_METHODS). */
const NEXT_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** What a page serves (POST: server actions); used when a path has no OPTIONS answer. */
const PAGE_ALLOW = 'GET, HEAD, POST';

const dir = fileURLToPath(new URL('..', import.meta.url));
const app = next({ dev: false, dir, hostname: config.PORTAL_HOST, port: config.PORTAL_PORT });
await app.prepare();
const handle = app.getRequestHandler();

const server = createServer((req, res) => {
  if (NEXT_METHODS.has(req.method ?? '')) {
    // Untouched: Next writes the socket peer as X-Forwarded-For after src/proxy.ts has set the
    // client's own aside, which is how the portal learns the client address (server/forwarded-headers.ts).
    void handle(req, res);
    return;
  }
  req.resume();
  void allowFor(req.url ?? '/').then((allow) => {
    const problem = methodNotAllowedProblem(req.method ?? '');
    res.writeHead(405, {
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-request-id': problem.requestId ?? '',
      allow,
    });
    res.end(JSON.stringify(problem));
  });
});

// CONNECT never reaches the request listener, and an unknown method never gets past the
// parser: both are answered on the raw socket, which is then closed.
const refuseOnSocket = (socket: Socket, method: string, path: string) =>
  void allowFor(path).then((allow) => writeRawProblem(socket, methodNotAllowedProblem(method), { allow }));
server.on('connect', (req: IncomingMessage, socket: Socket) => {
  socket.on('error', () => socket.destroy());
  refuseOnSocket(socket, 'CONNECT', req.url ?? '/');
});
server.on('clientError', (err, socket: Socket) =>
  answerClientError(err, socket, (method, path) => refuseOnSocket(socket, method, path)),
);

/**
 * The methods the target serves, from Next's own OPTIONS answer for the path (route handlers
 * list theirs); pages and unknown paths have none and get PAGE_ALLOW. Only refused requests
 * pay this loopback round trip.
 */
function allowFor(path: string): Promise<string> {
  const address = server.address();
  if (typeof address !== 'object' || address === null || !path.startsWith('/'))
    return Promise.resolve(PAGE_ALLOW);
  const host =
    address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
  return new Promise((resolve) => {
    try {
      const probe = loopbackRequest(
        { host, port: address.port, path, method: 'OPTIONS', timeout: 2000 },
        (answer: IncomingMessage) => {
          answer.resume();
          const allow = answer.headers.allow;
          resolve(
            answer.statusCode === 204 && typeof allow === 'string' && allow !== '' ? allow : PAGE_ALLOW,
          );
        },
      );
      probe.on('timeout', () => probe.destroy());
      probe.on('error', () => resolve(PAGE_ALLOW));
      probe.end();
    } catch {
      resolve(PAGE_ALLOW); // a path node:http will not send (it accepted it from the client)
    }
  });
}

server.listen(config.PORTAL_PORT, config.PORTAL_HOST, () => {
  console.log(`portal listening on http://${config.PORTAL_HOST}:${config.PORTAL_PORT}`);
});

function shutdown(): void {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
