import type {
  BucketState,
  ClaimState,
  LeaseState,
  LeaseStateNames,
  QuotaLeaseState,
} from '../../../core/src/leasing/testing/lease-state.ts';
import { normalizeLease, stateKey } from '../../../core/src/leasing/testing/lease-state.ts';
import type { Redis } from '../client.ts';
import type { RedisLeaseStore } from '../redis-lease-store.ts';

/**
 * Reads a RedisLeaseStore's keys into the contract test's state shape (one pipeline), so that it
 * can be compared with MemoryLeaseStore's maps. The hash layout is lease-script.ts's.
 */
export async function redisLeaseState(
  redis: Redis,
  store: RedisLeaseStore,
  names: LeaseStateNames,
): Promise<LeaseState> {
  const pipe = redis.pipeline();
  for (const { subject, periodId } of names.quotas) {
    pipe.get(store.quotaKey(subject, periodId));
    pipe.hgetall(store.leaseKey(subject, periodId));
  }
  for (const rateSubject of names.rateSubjects) pipe.hgetall(store.bucketKey(rateSubject));
  const results = (await pipe.exec()) ?? [];
  const values = results.map(([err, value]) => {
    if (err !== null) throw err;
    return value;
  });
  const state: LeaseState = { counters: {}, leases: {}, buckets: {} };
  let i = 0;
  for (const { subject, periodId } of names.quotas) {
    const counter = values[i++] as string | null;
    const rec = values[i++] as Record<string, string>;
    const key = stateKey(subject, periodId);
    state.counters[key] = counter === null ? null : Number(counter);
    state.leases[key] =
      Object.keys(rec).length === 0
        ? null
        : normalizeLease({
            leases: leases(rec),
            reclaimUntil: Number(rec.ru ?? 0),
            forfeited: Number(rec.ff ?? 0),
            expiries: Number(rec.ex ?? 0),
          });
  }
  for (const rateSubject of names.rateSubjects) {
    const b = values[i++] as Record<string, string>;
    state.buckets[rateSubject] = Object.keys(b).length === 0 ? null : bucket(b);
  }
  return state;
}

function bucket(b: Record<string, string>): BucketState {
  return { t: Number(b.t), ts: Number(b.ts), lz: Number(b.lz), le: Number(b.le), shares: claims(b, 's') };
}

/** Fields `h${holder} ${lease}` = "G U W exp" ('ne' is the script's own index, not state). */
function leases(hash: Record<string, string>): Record<string, QuotaLeaseState> {
  const out: Record<string, QuotaLeaseState> = {};
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith('h')) continue;
    const [granted, used, window, exp] = value.split(' ').map(Number);
    out[field.slice(1)] = { granted: granted!, used: used!, window: window!, exp: exp! };
  }
  return out;
}

/** Fields `${tag}${holder}` = "claim exp". */
function claims(hash: Record<string, string>, tag: string): Record<string, ClaimState> {
  const out: Record<string, ClaimState> = {};
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith(tag)) continue;
    const [claim, exp] = value.split(' ');
    out[field.slice(tag.length)] = { claim: Number(claim), exp: Number(exp) };
  }
  return out;
}
