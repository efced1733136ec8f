import { type PrismaClient, ProviderConfigContentSchema, restoreConfigVersion } from '@tollgate/db';
import pg from 'pg';
import type {
  ControlPlaneSource,
  KeyRecord,
  RawApi,
  RawPlan,
  RawSnapshot,
  RestoreApisOutcome,
  RestoreApisRequest,
} from './types.ts';

export const CONFIG_CHANNEL = 'tollgate_config';
/** How far back (in configuration versions) a quarantined row's last good version is looked for. */
const HISTORY_VERSIONS = 100;

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

  /**
   * The provider configuration (tollgate_provider_config(), the shape config_versions records),
   * its version, consumers and live subscriptions, read in one REPEATABLE READ transaction so
   * the version names exactly the rows loaded.
   */
  async loadSnapshot(): Promise<RawSnapshot> {
    const [configRows, consumers, subscriptions] = await this.prisma.$transaction(
      [
        this.prisma.$queryRaw<{ config: unknown; version: bigint | null }[]>`
          SELECT tollgate_provider_config() AS config, (SELECT max(version) FROM config_versions) AS version`,
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
            billingAnchor: true,
            graceUntil: true,
          },
          orderBy: { createdAt: 'desc' },
        }),
      ],
      { isolationLevel: 'RepeatableRead' },
    );
    const row = configRows[0];
    const config = ProviderConfigContentSchema.parse(row?.config);
    return {
      version: row?.version === null || row?.version === undefined ? null : Number(row.version),
      apis: config.apis,
      plans: config.plans,
      consumers,
      subscriptions,
    };
  }

  /** Rows of these ids in the last HISTORY_VERSIONS configuration versions, newest first. */
  async loadRowHistory(ids: {
    apis: string[];
    plans: string[];
  }): Promise<{ apis: RawApi[]; plans: RawPlan[] }> {
    const rows = (kind: 'apis' | 'plans', wanted: string[]) =>
      wanted.length === 0
        ? Promise.resolve([])
        : this.prisma.$queryRaw<{ row: unknown }[]>`
            SELECT r AS row
            FROM (SELECT version, content FROM config_versions ORDER BY version DESC LIMIT ${HISTORY_VERSIONS}) v,
                 jsonb_array_elements(v.content->${kind}::text) r
            WHERE r->>'id' = ANY(${wanted}::text[])
            ORDER BY v.version DESC`;
    const [apis, plans] = await Promise.all([rows('apis', ids.apis), rows('plans', ids.plans)]);
    // The stored shape, as loadSnapshot reads it (a row that does not parse is skipped).
    const parse = <T>(list: { row: unknown }[], one: (v: unknown) => T | null) =>
      list.map((r) => one(r.row)).filter((r): r is T => r !== null);
    return {
      apis: parse(apis, (v) => ProviderConfigContentSchema.shape.apis.element.safeParse(v).data ?? null),
      plans: parse(plans, (v) => ProviderConfigContentSchema.shape.plans.element.safeParse(v).data ?? null),
    };
  }

  async restoreApis(request: RestoreApisRequest): Promise<RestoreApisOutcome> {
    const result = await restoreConfigVersion(this.prisma, {
      version: request.version,
      scope: { apiIds: request.apiIds },
      ifUnchangedSince: request.ifUnchangedSince,
      actor: { kind: 'gateway', id: request.actorId },
      action: 'config.auto_rollback',
      reason: request.reason,
    });
    return result.status;
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
