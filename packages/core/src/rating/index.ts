export * from './overage-tiers.ts';
export * from './proration.ts';
export * from './rate-period.ts';
export * from './tiers.ts';
