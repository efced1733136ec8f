export * from './client.ts';
export * from './sql.ts';
