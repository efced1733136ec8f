export * from './usage-sql.ts';
export * from './usage-store.ts';
