export * from './api-config.ts';
export * from './config-path.ts';
export * from './config-problem.ts';
export * from './host.ts';
export * from './route-claims.ts';
export * from './validate-config.ts';
