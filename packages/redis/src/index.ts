export * from './client.ts';
export * from './limiter-script.ts';
export * from './redis-lease-store.ts';
export * from './redis-limiter.ts';
