export * from './client.ts';
export * from './migrations.ts';
export * from './sql.ts';
export * from './sql-runner.ts';
