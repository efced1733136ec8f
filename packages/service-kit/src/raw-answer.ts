import type { Socket } from 'node:net';
import type { ProblemDetails } from '@tollgate/core';

/**
 * Answers written straight to a socket, for requests node:http refuses or hands over before any
 * framework sees them (an unknown method, CONNECT, a malformed request), shared by the portal's
 * server and the fastify services.
 */
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
};

/** Writes a problem+json answer and closes the connection. */
export function writeRawProblem(
  socket: Socket,
  problem: ProblemDetails,
  headers: Record<string, string> = {},
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(problem);
  const lines = [
    `HTTP/1.1 ${problem.status} ${REASONS[problem.status] ?? 'Error'}`,
    'content-type: application/problem+json',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * The method and target of a request node:http refused because its parser does not know the
 * method (TRACK, BREW, ...): read from the bytes it kept, so the answer can be a 405 that names
 * what the path serves. Undefined for any other refusal.
 */
export function unknownMethodRequest(err: unknown): { method: string; path: string } | undefined {
  const e = err as { code?: unknown; rawPacket?: unknown } | null;
  if (e?.code !== 'HPE_INVALID_METHOD' || !Buffer.isBuffer(e.rawPacket)) return undefined;
  const line = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}) (\/\S*) HTTP\/1\.[01]\r?\n/.exec(
    e.rawPacket.subarray(0, 8192).toString('latin1'),
  );
  return line === null ? undefined : { method: line[1]!, path: line[2]! };
}

/**
 * A 'clientError' listener's job: a request with a method the parser does not know goes to
 * `unknownMethod` (to be answered 405); any other refusal gets what node:http itself would have
 * sent (it sends nothing once a listener takes over): a bare 400, 408, 413 or 431, then close.
 */
export function answerClientError(
  err: unknown,
  socket: Socket,
  unknownMethod: (method: string, path: string) => void,
): void {
  const refused = unknownMethodRequest(err);
  if (refused !== undefined) {
    unknownMethod(refused.method, refused.path);
    return;
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
        ? 413
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : 400;
  socket.end(`HTTP/1.1 ${status} ${REASONS[status]}\r\nConnection: close\r\n\r\n`);
}
