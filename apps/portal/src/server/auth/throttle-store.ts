import { Prisma, type PrismaClient } from '@tollgate/db/client';
import { RecentRefusals } from './recent-refusals.ts';
import { admit, refund, type ThrottlePolicy, type ThrottleState } from './throttle-policy.ts';

/**
 * The throttles' state, in Postgres (auth_throttles) so it holds across portal instances and
 * restarts. An attempt is admitted on all of its keys or on none, in one transaction that locks
 * the rows in a fixed order: concurrent attempts cannot both pass on the same count, and two
 * admissions cannot deadlock. Refusals are remembered in the process until they end (a blocked
 * flood costs no transactions). Times come from the portal's clock.
 */
export type ThrottleScope = 'sign_in_account' | 'sign_in_address' | 'sign_up_address';

export interface ThrottleKey {
  scope: ThrottleScope;
  key: string;
  policy: ThrottlePolicy;
}

export type ThrottleVerdict =
  | { allowed: true }
  | { allowed: false; scope: ThrottleScope; retryAfterMs: number };

interface Row {
  scope: string;
  key: string;
  attempts: number;
  last_attempt_at: Date;
  blocked_until: Date;
}

const toState = (row: Row): ThrottleState => ({
  attempts: row.attempts,
  lastAttemptAt: row.last_attempt_at.getTime(),
  blockedUntil: row.blocked_until.getTime(),
});

const idOf = (key: { scope: string; key: string }) => `${key.scope}\n${key.key}`;

const sorted = (keys: ThrottleKey[]) =>
  [...keys].sort((a, b) => (a.scope === b.scope ? (a.key < b.key ? -1 : 1) : a.scope < b.scope ? -1 : 1));

type Tx = Prisma.TransactionClient;

async function lockRows(tx: Tx, keys: ThrottleKey[]): Promise<Map<string, ThrottleState>> {
  await tx.authThrottle.createMany({
    data: keys.map((k) => ({
      scope: k.scope,
      key: k.key,
      lastAttemptAt: new Date(0),
      blockedUntil: new Date(0),
    })),
    skipDuplicates: true,
  });
  const rows = await tx.$queryRaw<Row[]>`
    SELECT scope, key, attempts, last_attempt_at, blocked_until FROM auth_throttles
    WHERE (scope, key) IN (${Prisma.join(keys.map((k) => Prisma.sql`(${k.scope}, ${k.key})`))})
    ORDER BY scope, key FOR UPDATE`;
  return new Map(rows.map((r) => [idOf(r), toState(r)]));
}

async function writeState(tx: Tx, key: ThrottleKey, state: ThrottleState): Promise<void> {
  await tx.authThrottle.update({
    where: { scope_key: { scope: key.scope, key: key.key } },
    data: {
      attempts: state.attempts,
      lastAttemptAt: new Date(state.lastAttemptAt),
      blockedUntil: new Date(state.blockedUntil),
    },
  });
}

// Explicit bounds for the interactive transactions (a few statements on locked rows).
const TX_OPTIONS = { maxWait: 5000, timeout: 5000 };

export class ThrottleStore {
  /**
   * This process's throttle transactions run one at a time: a flood of attempts on one key would
   * otherwise queue on its row lock inside Postgres until the later transactions time out (seen:
   * 10 parallel sign-ups on a loaded machine, one answered with an error instead of its verdict).
   * Other instances still meet on the row lock; each transaction is a few statements.
   */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly refusals: RecentRefusals = new RecentRefusals(),
  ) {}

  /** Admits and counts one attempt on every key, or refuses it with the longest wait among them. */
  async admit(keys: ThrottleKey[], at?: number): Promise<ThrottleVerdict> {
    const early = this.longestRemembered(keys, at ?? Date.now());
    if (early !== null) return early;
    return this.serially(() => this.admitNow(keys, at ?? Date.now()));
  }

  private async admitNow(keys: ThrottleKey[], now: number): Promise<ThrottleVerdict> {
    // A refusal remembered while this attempt waited its turn costs no transaction either.
    const remembered = this.longestRemembered(keys, now);
    if (remembered !== null) return remembered;
    const ordered = sorted(keys);
    const verdict = await this.prisma.$transaction(async (tx): Promise<ThrottleVerdict> => {
      const states = await lockRows(tx, ordered);
      const next: Array<[ThrottleKey, ThrottleState]> = [];
      let refusal: ThrottleVerdict | null = null;
      for (const key of ordered) {
        const admission = admit(states.get(idOf(key))!, now, key.policy);
        if (admission.allowed) next.push([key, admission.next]);
        else if (refusal === null || (!refusal.allowed && admission.retryAfterMs > refusal.retryAfterMs)) {
          refusal = { allowed: false, scope: key.scope, retryAfterMs: admission.retryAfterMs };
        }
      }
      if (refusal !== null) return refusal;
      for (const [key, state] of next) await writeState(tx, key, state);
      return { allowed: true };
    }, TX_OPTIONS);
    if (!verdict.allowed) {
      const key = keys.find((k) => k.scope === verdict.scope)!;
      this.refusals.remember(idOf(key), now + verdict.retryAfterMs);
    }
    return verdict;
  }

  /** Takes back one admitted attempt on each key (it did not count, or it never ran). */
  async refund(keys: ThrottleKey[]): Promise<void> {
    const ordered = sorted(keys);
    await this.serially(() =>
      this.prisma.$transaction(async (tx) => {
        const states = await lockRows(tx, ordered);
        for (const key of ordered) await writeState(tx, key, refund(states.get(idOf(key))!, key.policy));
      }, TX_OPTIONS),
    );
  }

  /** Runs `work` after every throttle transaction queued before it (its failure is the caller's). */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Forgets a key entirely (a correct password clears its address-and-account throttle). */
  async clear(key: ThrottleKey): Promise<void> {
    await this.prisma.authThrottle.deleteMany({ where: { scope: key.scope, key: key.key } });
  }

  /**
   * Housekeeping: deletes up to `limit` rows of the key's scope that count nothing any more (no
   * wait pending, every attempt forgiven), so a deleted row and a kept one mean the same.
   */
  async deleteSpent(
    key: Pick<ThrottleKey, 'scope' | 'policy'>,
    now: number = Date.now(),
    limit = 100,
  ): Promise<number> {
    const at = new Date(now);
    return this.prisma.$executeRaw`
      DELETE FROM auth_throttles WHERE ctid IN (
        SELECT ctid FROM auth_throttles
        WHERE scope = ${key.scope} AND blocked_until <= ${at}
          AND last_attempt_at + attempts * ${key.policy.forgiveMs} * interval '1 millisecond' <= ${at}
        LIMIT ${limit})`;
  }

  private longestRemembered(keys: ThrottleKey[], now: number): ThrottleVerdict | null {
    let refusal: ThrottleVerdict | null = null;
    for (const key of keys) {
      const until = this.refusals.refusedUntil(idOf(key), now);
      if (until !== null && (refusal === null || (!refusal.allowed && until - now > refusal.retryAfterMs))) {
        refusal = { allowed: false, scope: key.scope, retryAfterMs: until - now };
      }
    }
    return refusal;
  }
}
