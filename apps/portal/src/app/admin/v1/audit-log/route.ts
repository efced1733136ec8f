import { auditEntries } from '../../../../server/queries/admin.ts';
import { restHandler } from '../../../../server/rest/handler.ts';

export const GET = restHandler(['admin'], async (_actor, request) => {
  const sp = new URL(request.url).searchParams;
  const pick = (k: string) => sp.get(k)?.slice(0, 100) || undefined;
  const limit = Math.min(500, Math.max(1, Number(sp.get('limit')) || 100));
  return {
    body: {
      entries: await auditEntries(
        { action: pick('action'), targetType: pick('targetType'), targetId: pick('targetId') },
        limit,
      ),
    },
  };
});
