export * from './client.ts';
export * from './migrations.ts';
export * from './sql.ts';
export * from './sql-runner.ts';
export * from './usage-store/index.ts';
