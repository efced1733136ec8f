import type { PrismaClient } from '@tollgate/db';
import pg from 'pg';
import type { ControlPlaneSource, KeyRecord, RawSnapshot } from './types.ts';

export const CONFIG_CHANNEL = 'tollgate_config';

/**
 * Control-plane data from Postgres: snapshots and key lookups through Prisma, change
 * notifications through a dedicated `pg` connection LISTENing on `tollgate_config` (the
 * triggers in migrations/postgres/*_gateway_config_notify.sql send the changed table's name).
 * The listening connection reconnects with backoff and reports it, so the caller resyncs.
 */
export class PostgresControlPlaneSource implements ControlPlaneSource {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly databaseUrl: string,
  ) {}

  async loadSnapshot(): Promise<RawSnapshot> {
    const [apis, plans, consumers, subscriptions] = await Promise.all([
      this.prisma.api.findMany({
        select: {
          id: true,
          slug: true,
          hosts: true,
          basePath: true,
          stripBasePath: true,
          upstreamHost: true,
          loadBalancing: true,
          maxBodyBytes: true,
          targets: {
            select: { id: true, url: true, weight: true, healthCheckPath: true },
            orderBy: { id: 'asc' },
          },
          routes: {
            select: {
              id: true,
              name: true,
              methods: true,
              path: true,
              cost: true,
              timeoutMs: true,
              public: true,
            },
            orderBy: { id: 'asc' },
          },
        },
        orderBy: { id: 'asc' },
      }),
      this.prisma.plan.findMany({ include: { entitlements: { select: { apiId: true, routeId: true } } } }),
      this.prisma.consumer.findMany({ select: { id: true, status: true } }),
      this.prisma.subscription.findMany({
        where: { status: { in: ['trialing', 'active', 'past_due'] } },
        select: {
          id: true,
          consumerId: true,
          planId: true,
          status: true,
          currentPeriodStart: true,
          currentPeriodEnd: true,
          graceUntil: true,
        },
        orderBy: { createdAt: 'desc' },
      }),
    ]);
    return {
      apis,
      plans: plans.map((p) => ({
        id: p.id,
        slug: p.slug,
        name: p.name,
        quota: p.quota,
        quotaPeriod: p.quotaPeriod,
        rateLimitPerSecond: p.rateLimitPerSecond,
        burst: p.burst,
        limitScope: p.limitScope,
        priceCents: p.priceCents,
        currency: p.currency,
        capMode: p.capMode,
        overageUnitPriceDecimal: p.overageUnitPriceDecimal,
        overageCeiling: p.overageCeiling,
        trialDays: p.trialDays,
        visibility: p.visibility,
        countUpstreamErrors: p.countUpstreamErrors,
        redisFailurePolicy: p.redisFailurePolicy,
        entitlements: p.entitlements,
      })),
      consumers,
      subscriptions,
    };
  }

  async findKeyByHash(hash: string): Promise<KeyRecord | null> {
    return this.prisma.apiKey.findUnique({
      where: { hash },
      select: { id: true, consumerId: true, expiresAt: true, revokedAt: true },
    });
  }

  async listen(handlers: {
    onChange(table: string): void;
    onReconnect(): void;
    onError(err: unknown): void;
  }): Promise<() => Promise<void>> {
    let client: pg.Client | null = null;
    let stopped = false;
    let retry: NodeJS.Timeout | null = null;
    let attempt = 0;

    const connect = async (): Promise<void> => {
      const c = new pg.Client({ connectionString: this.databaseUrl, keepAlive: true });
      c.on('notification', (msg) => {
        if (msg.channel === CONFIG_CHANNEL) handlers.onChange(msg.payload ?? '');
      });
      c.on('error', (err) => {
        handlers.onError(err);
        reconnectSoon(c);
      });
      c.on('end', () => reconnectSoon(c));
      await c.connect();
      await c.query(`LISTEN ${CONFIG_CHANNEL}`);
      client = c;
      attempt = 0;
    };

    const reconnectSoon = (c: pg.Client): void => {
      if (stopped || client !== c) return;
      client = null;
      c.end().catch(() => {});
      schedule();
    };

    const schedule = (): void => {
      if (stopped || retry !== null) return;
      const delay = Math.min(100 * 2 ** attempt++, 5_000);
      retry = setTimeout(() => {
        retry = null;
        connect().then(
          () => handlers.onReconnect(),
          (err) => {
            handlers.onError(err);
            schedule();
          },
        );
      }, delay);
      retry.unref();
    };

    await connect();
    return async () => {
      stopped = true;
      if (retry !== null) clearTimeout(retry);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    };
  }

  async close(): Promise<void> {
    await this.prisma.$disconnect();
  }
}
