import { memoryLeaseState } from '../leasing/testing/lease-state.ts';
import { leaseStoreContract } from '../leasing/testing/lease-store-contract.ts';
import { systemClock } from '../ports.ts';
import { MemoryLeaseStore } from './memory-lease-store.ts';

// The suite RedisLeaseStore runs too (packages/redis/src/redis-lease-store.int.test.ts).
leaseStoreContract(
  'MemoryLeaseStore',
  async (policy) => {
    const store = new MemoryLeaseStore(systemClock, policy);
    return { store, state: async (names) => memoryLeaseState(store, names), close: async () => {} };
  },
  { propertyRuns: 200, noticeDeadlineMs: 0 },
);
