import { describe, expect, it } from 'vitest';
import { type ApiRow, type PlanRow, type ProviderConfig, validateProviderConfig } from './validate-config.ts';

const route = (id: string, path: string, extra: Partial<ApiRow['routes'][number]> = {}) => ({
  id,
  name: id,
  methods: [] as string[],
  path,
  cost: 1,
  timeoutMs: 5000,
  public: false,
  pathMatch: 'prefix',
  ...extra,
});

const api = (id: string, extra: Partial<ApiRow> = {}): ApiRow => ({
  id,
  slug: id,
  hosts: [],
  basePath: `/${id}`,
  stripBasePath: true,
  upstreamHost: null,
  loadBalancing: 'round_robin',
  maxBodyBytes: null,
  targets: [{ id: `${id}-t`, url: 'http://127.0.0.1:4010', weight: 1, healthCheckPath: '/health' }],
  routes: [route(`${id}-all`, '/')],
  ...extra,
});

const plan = (id: string, entitlements: PlanRow['entitlements'], extra: Partial<PlanRow> = {}): PlanRow => ({
  id,
  slug: id,
  name: id,
  quota: 100,
  quotaPeriod: 'month',
  rateLimitPerSecond: null,
  burst: null,
  limitScope: 'consumer',
  priceCents: 0,
  currency: 'usd',
  capMode: 'hard',
  overageUnitPriceDecimal: null,
  overageCeiling: null,
  trialDays: 0,
  visibility: 'public',
  countUpstreamErrors: false,
  redisFailurePolicy: 'fail_closed',
  entitlements,
  ...extra,
});

const problemsOf = (config: ProviderConfig) =>
  validateProviderConfig(config).problems.map(
    (p) => `${p.kind} ${p.id}: ${p.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
  );

describe('config.validate', () => {
  it('a bad API is refused alone; the others are served', () => {
    const config = { apis: [api('a', { hosts: ['2:3'] }), api('b')], plans: [] };
    const result = validateProviderConfig(config);
    expect(result.apis.map((a) => a.id)).toEqual(['b']);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ kind: 'api', id: 'a', fallback: false });
    expect(result.problems[0]!.issues[0]!.path).toEqual(['hosts', 0]);
  });

  it('issues name routes and targets by id', () => {
    const bad = api('a', {
      routes: [route('r1', '/'), route('r2', '/users/{id}')],
      targets: [{ id: 't1', url: 'http://x/?q=1', weight: 1, healthCheckPath: null }],
    });
    const [problem] = validateProviderConfig({ apis: [bad], plans: [] }).problems;
    expect(problem!.issues.map((i) => i.path.join('.'))).toEqual(['routes.r2.path', 'targets.t1.url']);
  });

  it('overlapping routes: same host, full path, match and a common method', () => {
    // Within one API.
    expect(
      problemsOf({ apis: [api('a', { routes: [route('r1', '/x'), route('r2', '/x/')] })], plans: [] }),
    ).toEqual([expect.stringContaining('routes.r2.path route "r2" overlaps route "r1" on any host /a/x')]);
    // Letter case aside: the gateway matches route paths case-insensitively.
    expect(
      problemsOf({ apis: [api('a', { routes: [route('r1', '/Heavy'), route('r2', '/heavy')] })], plans: [] }),
    ).toEqual([expect.stringContaining('route "r2" overlaps route "r1" on any host /a/heavy')]);
    // Across APIs: /a + /b/c and /a/b + /c are one path.
    const crossing = api('ab', { basePath: '/a/b', routes: [route('c2', '/c')] });
    expect(problemsOf({ apis: [api('a', { routes: [route('c1', '/b/c')] }), crossing], plans: [] })).toEqual([
      expect.stringContaining('overlaps route "c1" of API "a"'),
    ]);
    // Not overlaps: disjoint methods, exact vs prefix, a host-bound API vs any host.
    const fine: ProviderConfig = {
      apis: [
        api('a', {
          routes: [
            route('g', '/x', { methods: ['GET'] }),
            route('p', '/x', { methods: ['POST'] }),
            route('e', '/x', { methods: ['GET'], pathMatch: 'exact' }),
          ],
        }),
        api('h', { basePath: '/a', hosts: ['h.example.com'], routes: [route('hx', '/x')] }),
      ],
      plans: [],
    };
    expect(problemsOf(fine)).toEqual([]);
  });

  it('the earlier API wins an overlap, and a refused API falls back to its last good version', () => {
    const good = api('b', { basePath: '/b' });
    const moved = api('b', { basePath: '/a' }); // now on top of API a
    const result = validateProviderConfig(
      { apis: [api('a'), moved], plans: [] },
      { lastGoodApi: (id) => (id === 'b' ? good : undefined) },
    );
    expect(result.apis.map((a) => `${a.id}${a.basePath}`)).toEqual(['a/a', 'b/b']);
    expect(result.problems).toEqual([expect.objectContaining({ kind: 'api', id: 'b', fallback: true })]);
  });

  it('plans: PlanSchema rules and entitlements to existing APIs and their routes', () => {
    const config: ProviderConfig = {
      apis: [api('a'), api('q', { basePath: 'no-slash' })],
      plans: [
        plan('ok', [
          { apiId: 'a', routeId: null },
          { apiId: 'q', routeId: null },
        ]),
        plan('soft', [], { capMode: 'soft' }),
        plan('ghost', [{ apiId: 'nope', routeId: null }]),
        plan('wrong-route', [{ apiId: 'a', routeId: 'q-all' }]),
      ],
    };
    const result = validateProviderConfig(config);
    // The entitlement to the quarantined API q is left out, not a problem of the plan.
    expect(result.plans.map((p) => [p.id, p.entitlements])).toEqual([
      ['ok', [{ apiId: 'a', routeId: null }]],
    ]);
    expect(result.problems.map((p) => `${p.kind} ${p.id}`)).toEqual([
      'api q',
      'plan soft',
      'plan ghost',
      'plan wrong-route',
    ]);
  });

  it('a plan falls back to its last good version, whose entitlements to deleted APIs are dropped', () => {
    const good = plan('p', [
      { apiId: 'a', routeId: null },
      { apiId: 'gone', routeId: null },
    ]);
    const result = validateProviderConfig(
      { apis: [api('a')], plans: [plan('p', [{ apiId: 'a', routeId: null }], { currency: 'US dollars' })] },
      { lastGoodPlan: () => good },
    );
    expect(result.plans).toEqual([
      expect.objectContaining({ id: 'p', currency: 'usd', entitlements: [{ apiId: 'a', routeId: null }] }),
    ]);
    expect(result.problems).toEqual([expect.objectContaining({ kind: 'plan', id: 'p', fallback: true })]);
  });
});
