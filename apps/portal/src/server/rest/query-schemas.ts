import { z } from '@tollgate/config';

/**
 * Query parameters of the /admin/v1 list endpoints; the OpenAPI document is generated from these.
 * The NUL rule is a refinement (it cannot reach Postgres), stated in the document's description.
 */
const filterText = z
  .string()
  .max(100)
  .refine((v) => !v.includes('\u0000'), 'must not contain NUL');

export const ConsumerSearchQuerySchema = z.object({
  q: filterText.optional().describe('Name, member email or id'),
  externalId: filterText.optional().describe("The provider's own id (exact)"),
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('Consumers per page'),
  cursor: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_-]+$/, 'not a cursor')
    .optional()
    .describe('nextCursor of the previous page'),
});

export const AuditLogQuerySchema = z.object({
  action: filterText.optional().describe('Action prefix, e.g. "plan." or "api.update"'),
  targetType: filterText.optional().describe('Target type, e.g. "plan"'),
  targetId: filterText.optional().describe('Target id'),
  limit: z.coerce.number().int().min(1).max(500).default(100).describe('Newest entries returned'),
});
