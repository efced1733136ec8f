import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, clickhouseEnv, kafkaEnv, parseConfig, postgresEnv, redisEnv, z } from './index.ts';

const schema = postgresEnv
  .extend(redisEnv.shape)
  .extend(kafkaEnv.shape)
  .extend(clickhouseEnv.shape)
  .extend({
    FEATURE_ON: z.stringbool().default(false),
  });

describe('config', () => {
  it('parses a good environment, with defaults filled in and booleans read strictly', () => {
    const cfg = parseConfig(schema, {
      DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
      REDIS_URL: 'redis://127.0.0.1:6379',
      KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.2:9093',
      CLICKHOUSE_URL: 'http://127.0.0.1:8123',
      FEATURE_ON: 'false',
    });
    expect(cfg.KAFKA_BROKERS).toEqual(['127.0.0.1:9092', '127.0.0.2:9093']);
    expect(cfg.REDIS_TIMEOUT_MS).toBe(50);
    expect(cfg.CLICKHOUSE_DATABASE).toBe('tollgate');
    expect(cfg.FEATURE_ON).toBe(false);
  });

  it('a bad environment lists every bad variable by name, not just the first', () => {
    let error: unknown;
    try {
      parseConfig(schema, {
        DATABASE_URL: 'mysql://nope',
        REDIS_TIMEOUT_MS: '-3',
        KAFKA_BROKERS: 'no-port',
        CLICKHOUSE_URL: 'http://127.0.0.1:8123',
        FEATURE_ON: 'maybe',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const names = (error as ConfigError).problems.map((p) => p.split(':')[0]);
    expect(names).toEqual(
      expect.arrayContaining([
        'DATABASE_URL',
        'REDIS_URL',
        'REDIS_TIMEOUT_MS',
        'KAFKA_BROKERS.0',
        'FEATURE_ON',
      ]),
    );
    expect((error as ConfigError).problems.find((p) => p.startsWith('REDIS_URL'))).toContain('(not set)');
  });

  it('loadConfig prints every problem and exits 1', () => {
    const script = `
      import { loadConfig, postgresEnv, redisEnv } from './packages/config/src/index.ts';
      loadConfig(postgresEnv.extend(redisEnv.shape), { DATABASE_URL: 'x' });
    `;
    const run = spawnSync('npx', ['tsx', '--eval', script], {
      encoding: 'utf8',
      cwd: new URL('../../../', import.meta.url).pathname,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('DATABASE_URL');
    expect(run.stderr).toContain('REDIS_URL');
  });
});
