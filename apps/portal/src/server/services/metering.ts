import { callService, query } from './call-service.ts';

export interface UsageTotals {
  requests: number;
  billableUnits: number;
  errors: number;
}
export interface UsagePoint {
  bucket: string;
  group: string;
  requests: number;
  billableUnits: number;
  errors: number;
}
export interface QuotaStatus {
  periodStart: string;
  periodEnd: string;
  quota: number | null;
  used: number;
  remaining: number | null;
  percent: number | null;
}
export interface AlertRow {
  id?: string;
  threshold: number;
  usedUnits?: number | string;
  quota?: number | string;
  periodStart?: string;
  createdAt?: string;
  deliveredAt?: string | null;
}

export const metering = {
  totals: (consumerId: string, from: Date, to: Date) =>
    callService<UsageTotals>(
      'metering',
      `/v1/usage/totals?${query({ consumerId, from: from.toISOString(), to: to.toISOString() })}`,
    ),
  timeseries: (
    consumerId: string,
    from: Date,
    to: Date,
    granularity: 'hour' | 'day' | 'month',
    groupBy?: 'api' | 'route' | 'key' | 'status',
  ) =>
    callService<{ points: UsagePoint[] }>(
      'metering',
      `/v1/usage/timeseries?${query({ consumerId, from: from.toISOString(), to: to.toISOString(), granularity, groupBy })}`,
    ),
  quota: (consumerId: string) =>
    callService<QuotaStatus>('metering', `/v1/usage/quota?${query({ consumerId })}`),
  alerts: (consumerId: string) =>
    callService<{ alerts: AlertRow[] } | AlertRow[]>('metering', `/v1/alerts?${query({ consumerId })}`),
  financeJson: (from: Date, to: Date) =>
    callService<unknown>(
      'metering',
      `/v1/reports/finance?${query({ from: from.toISOString(), to: to.toISOString(), format: 'json' })}`,
    ),
  financeCsv: (from: Date, to: Date) =>
    callService<string>(
      'metering',
      `/v1/reports/finance?${query({ from: from.toISOString(), to: to.toISOString(), format: 'csv' })}`,
      { raw: true },
    ),
};
