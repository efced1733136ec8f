import { deps } from '../deps.ts';
import { ThrottleStore } from './throttle-store.ts';

// One store per server process (its refusal memory is per process), built on first use.
const holder = globalThis as unknown as { __tollgateThrottles?: ThrottleStore };

export function throttles(): ThrottleStore {
  holder.__tollgateThrottles ??= new ThrottleStore(deps().prisma);
  return holder.__tollgateThrottles;
}
