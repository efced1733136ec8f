import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiConfigSchema, UpstreamTargetSchema, UpstreamUrlSchema } from './api-config.ts';
import {
  CONFIG_PATH_PATTERN,
  ConfigPathSchema,
  HealthCheckPathSchema,
  joinConfigPaths,
} from './config-path.ts';
import { ApiHostSchema, UpstreamHostSchema } from './host.ts';

const message = (
  schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } },
  v: unknown,
) => schema.safeParse(v).error?.issues[0]?.message;

describe('config.paths', () => {
  it('accepts canonical paths and stores them without a trailing slash', () => {
    expect(ConfigPathSchema.parse('/')).toBe('/');
    expect(ConfigPathSchema.parse('/v1/users')).toBe('/v1/users');
    expect(ConfigPathSchema.parse('/v1/users/')).toBe('/v1/users');
    expect(ConfigPathSchema.parse(' /a-b_c.d~e/V1 ')).toBe('/a-b_c.d~e/V1');
    expect(HealthCheckPathSchema.parse('/health/')).toBe('/health/');
  });

  it('refuses templates, encodings, parameters, empty and dot segments with a message that says why', () => {
    expect(message(ConfigPathSchema, '/users/{id}')).toMatch(
      /templates such as \/users\/\{id\} are not supported/,
    );
    expect(message(ConfigPathSchema, '/users/:id')).toMatch(/parameters such as \/users\/:id/);
    expect(message(ConfigPathSchema, '/files/*')).toMatch(/wildcards/);
    expect(message(ConfigPathSchema, '/%68eavy')).toMatch(/percent-encoding/);
    expect(message(ConfigPathSchema, '/heavy;x')).toMatch(/path parameters/);
    expect(message(ConfigPathSchema, '/a//b')).toMatch(/empty segments/);
    expect(message(ConfigPathSchema, '//')).toMatch(/empty segments/);
    expect(message(ConfigPathSchema, '/a/../b')).toMatch(/'\.' and '\.\.'/);
    expect(message(ConfigPathSchema, '/a/.')).toMatch(/'\.' and '\.\.'/);
    expect(message(ConfigPathSchema, '/a?b=1')).toMatch(/query/);
    expect(message(ConfigPathSchema, '/a#b')).toMatch(/fragment/);
    expect(message(ConfigPathSchema, 'users')).toMatch(/start with \//);
    expect(message(ConfigPathSchema, '/héllo')).toMatch(/only letters, digits/);
    expect(message(ConfigPathSchema, '/a b')).toMatch(/only letters, digits/);
    expect(message(ConfigPathSchema, '/a\\b')).toMatch(/only letters, digits/);
    // Sub-delims have escapes the request canonicalizer keeps (%21): they would be aliases.
    for (const p of ["/it's", '/a!b', '/a,b', '/a=b', '/a+b', '/v1:batch', '/a@b', '/a$b', '/a&b', '/(a)'])
      expect(message(ConfigPathSchema, p), p).toMatch(/only letters, digits and -\._~/);
    expect(message(ConfigPathSchema, `/${'a'.repeat(300)}`)).toBeDefined();
    expect(message(HealthCheckPathSchema, '/héalth')).toMatch(/only letters, digits/);
  });

  const pathChar = fc.constantFrom(..."aZ09-._~!$&'()+,=:@/%;{}*?# é\\".split(''));
  const candidate = fc.string({ unit: pathChar, maxLength: 24 }).map((s) => `/${s}`);

  it('an accepted path is canonical: stable, ASCII, no empty or dot segments, and matches the stated pattern', () => {
    fc.assert(
      fc.property(candidate, (raw) => {
        const parsed = ConfigPathSchema.safeParse(raw);
        if (!parsed.success) return;
        const path = parsed.data;
        expect(ConfigPathSchema.parse(path)).toBe(path);
        expect(path).toMatch(new RegExp(CONFIG_PATH_PATTERN));
        expect(path === '/' || !path.endsWith('/')).toBe(true);
        expect(
          path
            .slice(1)
            .split('/')
            .every((s) => path === '/' || (s !== '' && s !== '.' && s !== '..')),
        ).toBe(true);
        expect(/^[\x21-\x7e]+$/.test(path)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('joins base path and route path with one slash', () => {
    expect(joinConfigPaths('/', '/')).toBe('/');
    expect(joinConfigPaths('/echo', '/')).toBe('/echo');
    expect(joinConfigPaths('/', '/x')).toBe('/x');
    expect(joinConfigPaths('/echo/', '/heavy/')).toBe('/echo/heavy');
  });
});

describe('config.hosts and upstreams', () => {
  it('API hosts are bare host names: no port, no scheme', () => {
    expect(ApiHostSchema.parse(' API.Example.com ')).toBe('api.example.com');
    expect(ApiHostSchema.parse('127.0.0.1')).toBe('127.0.0.1');
    for (const bad of [
      '2:3',
      'api.example.com:8080',
      'http://a.com',
      'a_b.com',
      '-a.com',
      'a..com',
      '[::1]',
      '',
    ])
      expect(ApiHostSchema.safeParse(bad).success, bad).toBe(false);
    expect(message(ApiHostSchema, '2:3')).toMatch(/no port/);
  });

  it('hosts of an API are deduplicated', () => {
    const api = ApiConfigSchema.parse({
      slug: 'a',
      hosts: ['a.com', 'A.com'],
      basePath: '/a',
      stripBasePath: true,
      upstreamHost: null,
      loadBalancing: 'round_robin',
      maxBodyBytes: null,
    });
    expect(api.hosts).toEqual(['a.com']);
  });

  it('upstream Host headers may carry a port', () => {
    expect(UpstreamHostSchema.safeParse('echo.internal:8080').success).toBe(true);
    expect(UpstreamHostSchema.safeParse('echo.internal:0').success).toBe(false);
    expect(UpstreamHostSchema.safeParse('a b').success).toBe(false);
  });

  it('target URLs are plain http(s) origins and paths, stored as their href', () => {
    expect(UpstreamUrlSchema.parse('http://EXAMPLE.com:80')).toBe('http://example.com/');
    expect(UpstreamUrlSchema.parse('https://10.0.0.5:8443/base')).toBe('https://10.0.0.5:8443/base');
    expect(message(UpstreamUrlSchema, 'http://example.com/?a=1')).toMatch(/query/);
    expect(message(UpstreamUrlSchema, 'http://example.com/?')).toMatch(/query/);
    expect(message(UpstreamUrlSchema, 'http://example.com/#x')).toMatch(/fragment/);
    expect(message(UpstreamUrlSchema, 'http://user:pw@example.com')).toMatch(/credentials/);
    expect(message(UpstreamUrlSchema, 'ftp://example.com')).toMatch(/http or https/);
    expect(message(UpstreamUrlSchema, 'not a url')).toMatch(/an http\(s\) URL/);
    expect(message(UpstreamUrlSchema, 'http://example.com/a b')).toMatch(/canonical path/);
    const target = UpstreamTargetSchema.safeParse({ url: 'http://a', weight: 1000, healthCheckPath: '/h' });
    expect(target.success).toBe(false);
  });
});
