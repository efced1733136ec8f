import { GRANULARITIES, GROUP_BYS, ROLLUP_GROUP_BYS } from '@tollgate/clickhouse';
import { z } from '@tollgate/config';

/**
 * Request and response schemas of the usage API. Queries are validated with these (every
 * problem reported at once), and the OpenAPI document is generated from them (openapi.ts).
 */
const ConsumerId = z.string().min(1).max(64).describe('Consumer id as recorded in usage events');
const ConsumerUuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'a UUID')
  .describe('Consumer id (UUID)');
const Instant = z.iso
  .datetime({ offset: true })
  .describe('RFC 3339 timestamp; usage is counted at second precision');

/** Longest range one query may cover (13 months), bounding the work one request can cause. */
export const MAX_RANGE_MS = 400 * 86_400_000;

function range<T extends z.ZodRawShape>(shape: T) {
  return z
    .object({ ...shape, from: Instant.describe('Start, inclusive'), to: Instant.describe('End, exclusive') })
    .superRefine((value, ctx) => {
      const q = value as unknown as { from: string; to: string };
      const from = Date.parse(q.from);
      const to = Date.parse(q.to);
      if (!(from < to)) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
      else if (to - from > MAX_RANGE_MS) {
        ctx.addIssue({ code: 'custom', path: ['to'], message: 'range longer than 400 days' });
      }
    });
}

export const TotalsQuerySchema = range({ consumerId: ConsumerId });
export const TimeseriesQuerySchema = range({
  consumerId: ConsumerId,
  granularity: z.enum(GRANULARITIES),
  groupBy: z.enum(GROUP_BYS).optional(),
});
export const RollupQuerySchema = range({
  consumerId: ConsumerId,
  granularity: z.enum(GRANULARITIES),
  groupBy: z.enum(ROLLUP_GROUP_BYS).optional(),
});
export const LatencyQuerySchema = range({ consumerId: ConsumerId });
export const QuotaQuerySchema = z.object({ consumerId: ConsumerUuid });
export const FinanceQuerySchema = range({ format: z.enum(['json', 'csv']).default('json') });
export const AlertsQuerySchema = z.object({ consumerId: ConsumerUuid });

const Counters = {
  requests: z.number().int().describe('Distinct requests (events deduplicated by id)'),
  billableUnits: z.number().int().describe('Sum of units of billable requests'),
  errors: z.number().int().describe('Requests answered with status >= 400'),
};

export const TotalsResponseSchema = z.object({
  consumerId: z.string(),
  from: z.string(),
  to: z.string(),
  ...Counters,
});
export const TimeseriesResponseSchema = z.object({
  consumerId: z.string(),
  granularity: z.enum(GRANULARITIES),
  groupBy: z.enum(GROUP_BYS).nullable(),
  points: z.array(
    z.object({
      bucket: z.string().describe('Bucket start, ISO 8601 UTC'),
      group: z.string().nullable().describe('Value of the groupBy dimension; null without groupBy'),
      ...Counters,
    }),
  ),
});
export const RollupResponseSchema = z.object({
  consumerId: z.string(),
  granularity: z.enum(GRANULARITIES),
  groupBy: z.enum(ROLLUP_GROUP_BYS).nullable(),
  approximate: z.literal(true).describe('Redelivered events may be counted more than once: not for billing'),
  points: TimeseriesResponseSchema.shape.points,
});
export const LatencyResponseSchema = z.object({
  consumerId: z.string(),
  from: z.string(),
  to: z.string(),
  routes: z.array(
    z.object({
      apiId: z.string(),
      routeId: z.string(),
      requests: z.number().int(),
      p50: z.number().describe('Milliseconds (exact quantile)'),
      p95: z.number(),
      p99: z.number(),
    }),
  ),
});
export const QuotaResponseSchema = z.object({
  consumerId: z.string(),
  subscriptionId: z.string(),
  plan: z.string(),
  periodStart: z.string(),
  periodEnd: z.string(),
  quota: z.number().int().nullable().describe('Units per period; null is unlimited'),
  used: z.number().int(),
  remaining: z.number().int().nullable(),
  percent: z.number().nullable(),
});
export const FinanceReportResponseSchema = z.object({
  from: z.string(),
  to: z.string(),
  consumers: z.array(
    z.object({
      consumerId: z.string(),
      consumerName: z.string().nullable(),
      plan: z.string().nullable(),
      ...Counters,
      amountCents: z.number().int(),
      currency: z.string().nullable(),
    }),
  ),
});
export const AlertsResponseSchema = z.object({
  alerts: z.array(
    z.object({
      id: z.string(),
      consumerId: z.string(),
      subscriptionId: z.string(),
      periodStart: z.string(),
      threshold: z.number().int(),
      usedUnits: z.number().int(),
      quota: z.number().int(),
      createdAt: z.string(),
      deliveredAt: z.string().nullable(),
      attempts: z.number().int(),
      lastError: z.string().nullable(),
    }),
  ),
});
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string(),
  requestId: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
