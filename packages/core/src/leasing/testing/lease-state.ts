import { MemoryLeaseStore } from '../../memory/memory-lease-store.ts';
import type { LeaseStore } from '../lease-store.ts';

/**
 * A lease store's state, in one shape whatever the store: the contract test reads it from
 * MemoryLeaseStore's maps and from Redis's keys and requires them equal. Keyed by
 * `${subject}|${periodId}` (counters, leases) and by rate subject (buckets); a missing key and an
 * empty record both read as null.
 */
export interface ClaimState {
  claim: number;
  exp: number;
}

/** One quota lease: G granted, U reported used, W the holder's window. */
export interface QuotaLeaseState {
  granted: number;
  used: number;
  window: number;
  exp: number;
}

export interface LeaseRecordState {
  /** By `${holder} ${lease id}`. */
  leases: Record<string, QuotaLeaseState>;
  reclaimUntil: number;
  forfeited: number;
  expiries: number;
}

export interface BucketState {
  t: number;
  ts: number;
  lz: number;
  le: number;
  shares: Record<string, ClaimState>;
}

export interface LeaseState {
  counters: Record<string, number | null>;
  leases: Record<string, LeaseRecordState | null>;
  buckets: Record<string, BucketState | null>;
}

/** Which subjects, periods and buckets to read. */
export interface LeaseStateNames {
  quotas: { subject: string; periodId: number }[];
  rateSubjects: string[];
}

/** A store under test with a reader of its state; `close` releases what the factory opened. */
export interface LeaseStoreHarness {
  store: LeaseStore;
  state(names: LeaseStateNames): Promise<LeaseState>;
  close(): Promise<void>;
}

export function stateKey(subject: string, periodId: number): string {
  return `${subject}|${periodId}`;
}

/** A lease record with nothing in it is no record. */
export function normalizeLease(rec: LeaseRecordState): LeaseRecordState | null {
  const empty =
    Object.keys(rec.leases).length === 0 &&
    rec.reclaimUntil === 0 &&
    rec.forfeited === 0 &&
    rec.expiries === 0;
  return empty ? null : rec;
}

export function memoryLeaseState(store: MemoryLeaseStore, names: LeaseStateNames): LeaseState {
  const state: LeaseState = { counters: {}, leases: {}, buckets: {} };
  for (const { subject, periodId } of names.quotas) {
    const key = stateKey(subject, periodId);
    const mkey = MemoryLeaseStore.quotaKey(subject, periodId);
    state.counters[key] = store.counters.get(mkey) ?? null;
    const rec = store.leases.get(mkey);
    state.leases[key] =
      rec === undefined
        ? null
        : normalizeLease({
            leases: Object.fromEntries(
              [...rec.leases].map(([id, l]) => [
                id,
                { granted: l.granted, used: l.used, window: l.window, exp: l.exp },
              ]),
            ),
            reclaimUntil: rec.reclaimUntil,
            forfeited: rec.forfeited,
            expiries: rec.expiries,
          });
  }
  for (const rateSubject of names.rateSubjects) {
    const b = store.buckets.get(rateSubject);
    state.buckets[rateSubject] =
      b === undefined
        ? null
        : {
            t: b.t,
            ts: b.ts,
            lz: b.lz,
            le: b.le,
            shares: Object.fromEntries([...b.shares].map(([h, c]) => [h, { claim: c.claim, exp: c.exp }])),
          };
  }
  return state;
}
