import { deps } from '../../../server/deps.ts';

/** Liveness and readiness for infra/run.sh: 200 when Postgres answers, 503 otherwise. No secrets, no auth. */
export async function GET(): Promise<Response> {
  try {
    await deps().prisma.$queryRaw`SELECT 1`;
    return Response.json({ status: 'ok' }, { headers: { 'cache-control': 'no-store' } });
  } catch {
    return Response.json({ status: 'unavailable', database: 'unreachable' }, { status: 503 });
  }
}
