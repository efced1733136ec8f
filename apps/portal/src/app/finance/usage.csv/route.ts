import { requireUser } from '../../../server/auth/require-user.ts';
import { isTollgateError } from '../../../server/errors.ts';
import { periodFromParams } from '../../../server/queries/finance.ts';
import { metering } from '../../../server/services/metering.ts';

/** GET /finance/usage.csv?from=&to= — the metering finance report as a CSV download (finance, admin). */
export async function GET(request: Request): Promise<Response> {
  try {
    await requireUser(['finance', 'admin']);
  } catch (err) {
    const status = isTollgateError(err) ? err.status : 500;
    return new Response(status === 401 ? 'Sign in first.\n' : 'Not allowed.\n', {
      status,
      headers: { 'content-type': 'text/plain' },
    });
  }
  const url = new URL(request.url);
  const { from, to } = periodFromParams(
    url.searchParams.get('from') ?? undefined,
    url.searchParams.get('to') ?? undefined,
  );
  const res = await metering.financeCsv(from, to);
  if (!res.ok) {
    return new Response(`${res.error}\n`, {
      status: 503,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  }
  const name = `tollgate-usage-${from.toISOString().slice(0, 10)}-${to.toISOString().slice(0, 10)}.csv`;
  return new Response(res.data, {
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${name}"`,
      'cache-control': 'no-store',
    },
  });
}
