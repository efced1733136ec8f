import { auditEntries } from '../../../../server/queries/admin.ts';
import { parseQuery, restHandler, restRoute } from '../../../../server/rest/handler.ts';
import { AuditLogQuerySchema } from '../../../../server/rest/query-schemas.ts';

const get = restHandler(['admin'], async (_actor, request) => {
  const { limit, ...filter } = parseQuery(AuditLogQuerySchema, request);
  const pick = (v: string | undefined) => v || undefined;
  return {
    body: {
      entries: await auditEntries(
        { action: pick(filter.action), targetType: pick(filter.targetType), targetId: pick(filter.targetId) },
        limit,
      ),
    },
  };
});

export const { GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS } = restRoute({ GET: get });
