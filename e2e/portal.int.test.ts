import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseApiKey } from '@tollgate/core';
import { createTestDatabase, type TestDatabase } from '@tollgate/db/testing';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM_ARGS,
  chromiumAvailable,
  deadServiceUrl,
  ensurePortalBuild,
  REPO_ROOT,
  type RunningPortal,
  startPortal,
} from './support/portal.ts';
import { PASSWORD, seedWorld, type World } from './support/world.ts';

/**
 * The portal in a real browser (Debian's Chromium driven by playwright-core) against the built
 * portal and a fresh database: sign up, create a key (secret shown once), see it listed by
 * prefix and last four, revoke it; an admin edits a plan's quota and the audit log shows it;
 * finance gets the usage CSV (or, when metering is not running, the clear error). Console
 * errors are collected on every page, and every page is saved to e2e/artifacts/.
 */

const ECHO_OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'Echo', version: '1.0.0', description: 'Returns what you send.' },
  paths: {
    '/': {
      get: {
        summary: 'Echo the query string back',
        parameters: [
          { name: 'msg', in: 'query', required: false, schema: { type: 'string' }, description: 'Any text' },
        ],
        responses: { '200': { description: 'The request, as JSON' } },
      },
      post: {
        summary: 'Echo the body back',
        requestBody: { content: { 'application/json': {} } },
        responses: { '200': { description: 'The body' } },
      },
    },
  },
};

const ARTIFACTS = join(REPO_ROOT, 'e2e', 'artifacts');
const METERING_PROBE = process.env.METERING_URL ?? 'http://127.0.0.1:8081';

let db: TestDatabase;
let world: World;
let portal: RunningPortal;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
let meteringUp = false;
const consoleErrors: string[] = [];
const a11yViolations: string[] = [];
const AXE_SOURCE = readFileSync(join(REPO_ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
interface AxeViolation {
  id: string;
  impact: string | null;
  targets: string[];
}
const visited: string[] = [];

async function meteringAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(
      `${url}/v1/reports/finance?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&format=csv`,
      {
        headers: { authorization: `Bearer ${process.env.METERING_SERVICE_TOKEN ?? 'dev-metering-token'}` },
        signal: AbortSignal.timeout(1500),
      },
    );
    return res.ok;
  } catch {
    return false;
  }
}

/** Saves the page to e2e/artifacts and checks it with axe-core (serious and critical violations are failures). */
async function shot(name: string): Promise<void> {
  await page.waitForLoadState('networkidle');
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  visited.push(new URL(page.url()).pathname);
  // After a server action Next re-renders the page and puts its <title> back a moment after the
  // body (seen once in a loaded run: document-title on keys-created). Wait up to 5 s for one; a
  // page that never gets a title still fails below.
  await page.waitForFunction('document.title !== ""', undefined, { timeout: 5000 }).catch(() => {});
  await page.evaluate(AXE_SOURCE);
  // evaluated as text: this file is compiled without the DOM library
  const violations = (await page.evaluate(
    "axe.run(document).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) })))",
  )) as AxeViolation[];
  for (const v of violations) {
    if (v.impact === 'serious' || v.impact === 'critical')
      a11yViolations.push(`${name}: ${v.id} (${v.impact}) at ${v.targets.join(', ')}`);
  }
}

async function visit(path: string, name: string): Promise<void> {
  await page.goto(`${portal.url}${path}`);
  await shot(name);
}

async function signIn(email: string, password: string, landing: RegExp): Promise<void> {
  await page.goto(`${portal.url}/signin`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(landing);
}

async function signOut(): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${portal.url}/`);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await ensurePortalBuild();
  db = await createTestDatabase();
  world = await seedWorld(db.prisma);
  meteringUp = await meteringAnswers(METERING_PROBE);
  portal = await startPortal({
    DATABASE_URL: db.url,
    METERING_URL: meteringUp ? METERING_PROBE : await deadServiceUrl(),
    BILLING_URL: await deadServiceUrl(),
    SERVICE_TIMEOUT_MS: '1500',
  });
  userDataDir = mkdtempSync(join(tmpdir(), 'tollgate-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
    acceptDownloads: true,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: uncaught ${err.message}`));
  page.on('dialog', (dialog) => void dialog.accept());
}, 600_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await portal?.stop();
  await db?.drop();
});

describe.skipIf(!chromiumAvailable())('portal in Chromium', () => {
  it('a new developer signs up, creates a key shown once, sees it by prefix and last four, and revokes it', async () => {
    await visit('/', 'home');
    await visit('/pricing', 'pricing-anonymous');
    await page.goto(`${portal.url}/signup`);
    await shot('signup');
    const email = `newdev-${Date.now()}@example.test`;
    await page.getByLabel('Your name').fill('Ada Developer');
    await page.getByLabel('Company or project (optional)').fill('Analytical Engines');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('a sufficiently long password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${portal.url}/dashboard`);
    await expect.poll(() => page.getByRole('heading', { name: 'Welcome, Ada Developer' }).count()).toBe(1);
    await shot('dashboard');

    const user = await db.prisma.user.findUniqueOrThrow({ where: { email }, include: { memberships: true } });
    expect(user.role).toBe('developer');
    const consumerId = user.memberships[0]!.consumerId;

    await page.goto(`${portal.url}/keys`);
    await expect.poll(() => page.getByText('No keys yet').count()).toBe(1);
    await shot('keys-empty');
    await page.getByLabel('Name').fill('ci key');
    await page.getByLabel('Scopes (optional)').fill('read:echo');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secretEl = page.getByTestId('secret-value');
    await secretEl.waitFor();
    const secret = (await secretEl.textContent())!.trim();
    expect(secret.startsWith('tg_live_')).toBe(true);
    expect(parseApiKey(secret)).toMatchObject({ ok: true, env: 'live' });
    await expect.poll(() => page.getByRole('button', { name: 'Copy' }).count()).toBeGreaterThan(0);
    const row = page.locator('[data-testid=keys-table] tbody tr', { hasText: 'ci key' });
    await row.waitFor();
    await expect
      .poll(async () => (await row.textContent()) ?? '')
      .toContain(`${secret.slice(0, 14)}…${secret.slice(-4)}`);
    await shot('keys-created');

    // only the hash is stored, and after a reload the secret is gone from the page
    const stored = await db.prisma.apiKey.findFirstOrThrow({ where: { consumerId, name: 'ci key' } });
    expect(stored.prefix).toBe(secret.slice(0, 14));
    expect(stored.lastFour).toBe(secret.slice(-4));
    expect(JSON.stringify(stored)).not.toContain(secret);
    const keyRow = page.locator(`[data-testid=keys-table] tr[data-key-id="${stored.id}"]`);
    await page.reload();
    await keyRow.waitFor();
    expect(await page.content()).not.toContain(secret);

    // rotate: a new secret once, the old key keeps working until the overlap ends
    await keyRow.getByRole('button', { name: 'Rotate', exact: true }).click();
    await keyRow.getByLabel('Old key keeps working for (hours)').fill('2');
    await keyRow.getByRole('button', { name: 'Rotate now' }).click();
    const rotatedSecret = (await keyRow.getByTestId('secret-value').textContent())!.trim();
    expect(parseApiKey(rotatedSecret).ok).toBe(true);
    expect(rotatedSecret).not.toBe(secret);
    const keysNow = await db.prisma.apiKey.findMany({
      where: { consumerId, name: 'ci key' },
      orderBy: { createdAt: 'asc' },
    });
    expect(keysNow).toHaveLength(2);
    const overlapMs = keysNow[0]!.expiresAt!.getTime() - Date.now();
    expect(overlapMs).toBeGreaterThan(1.9 * 3_600_000);
    expect(overlapMs).toBeLessThanOrEqual(2 * 3_600_000);
    expect(keysNow[1]!.expiresAt).toBeNull();
    await shot('keys-rotated');
    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
    await page.reload();
    await keyRow.waitFor();
    await expect.poll(async () => (await keyRow.textContent()) ?? '').toContain('expires');

    await keyRow.getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(async () => (await keyRow.textContent()) ?? '').toContain('revoked');
    expect((await db.prisma.apiKey.findUniqueOrThrow({ where: { id: stored.id } })).revokedAt).not.toBeNull();
    await shot('keys-revoked');

    // alert webhook: saved for this consumer, signing secret shown once
    await page.goto(`${portal.url}/usage`);
    await page.getByLabel('Webhook URL').fill('https://hooks.example.test/tollgate');
    await page.getByRole('button', { name: 'Save webhook' }).click();
    const hookSecret = (await page.getByTestId('secret-value').textContent())!.trim();
    expect(hookSecret).toMatch(/^whsec_/);
    const consumer = await db.prisma.consumer.findUniqueOrThrow({ where: { id: consumerId } });
    expect(consumer.alertWebhookUrl).toBe('https://hooks.example.test/tollgate');
    expect(consumer.alertWebhookSecret).toBe(hookSecret);

    for (const [path, name] of [
      ['/usage', 'usage'],
      ['/billing', 'billing'],
      ['/pricing', 'pricing'],
      ['/apis', 'apis'],
      ['/apis/echo', 'api-echo'],
    ] as const) {
      await visit(path, name);
    }
    await signOut();
  });

  it('an admin edits a plan quota and the audit log shows the change', async () => {
    await signIn(world.users.admin.email, PASSWORD, new RegExp(`${portal.url}/admin$`));
    await shot('admin');
    await visit('/admin/plans', 'admin-plans');
    await page.getByRole('link', { name: 'Free' }).click();
    await page.waitForURL(new RegExp(`/admin/plans/${world.publicPlanId}$`));
    await page.getByLabel('Quota (units per period)').fill('1234');
    await page.getByRole('button', { name: 'Save plan' }).click();
    await expect
      .poll(async () => (await db.prisma.plan.findUniqueOrThrow({ where: { id: world.publicPlanId } })).quota)
      .toBe(1234);
    await page.getByRole('status').filter({ hasText: 'Plan saved.' }).waitFor();
    await shot('admin-plan-edit');

    await page.goto(`${portal.url}/admin/audit`);
    const entry = page.locator('[data-testid=audit-table] tbody tr', { hasText: 'plan.update' }).first();
    await entry.waitFor();
    expect(await entry.textContent()).toContain('quota: 1000 → 1234');
    expect(await entry.textContent()).toContain(world.users.admin.email);
    await shot('admin-audit');
    // the API's OpenAPI document, pasted in the admin UI, becomes the catalog's reference
    await page.goto(`${portal.url}/admin/apis/${world.apiId}`);
    await page.getByLabel('OpenAPI document (JSON)').fill(JSON.stringify(ECHO_OPENAPI, null, 2));
    await page.getByRole('button', { name: 'Save API' }).click();
    await page.getByRole('status').filter({ hasText: 'API saved.' }).waitFor();
    // a route's cost, edited in its dialog, is saved and audited
    await page.getByRole('button', { name: 'Edit', exact: true }).first().click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Cost (units)').fill('3');
    await dialog.getByRole('button', { name: 'Save route' }).click();
    await dialog.getByRole('status').filter({ hasText: 'Route saved.' }).waitFor();
    await shot('admin-route-edit');
    expect((await db.prisma.route.findUniqueOrThrow({ where: { id: world.routeId } })).cost).toBe(3);
    expect(
      await db.prisma.auditLog.count({ where: { action: 'route.update', targetId: world.routeId } }),
    ).toBe(1);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await shot('admin-api-edit');
    await page.goto(`${portal.url}/apis/echo`);
    await page.getByText('Echo the query string back').waitFor();
    expect(await page.getByTestId('curl-example').textContent()).toMatch(/curl -sS 'http:\/\/[^']+\/echo' /);
    await shot('api-echo-reference');
    for (const [path, name] of [
      ['/admin/apis', 'admin-apis'],
      ['/admin/consumers', 'admin-consumers'],
      ['/admin/tokens', 'admin-tokens'],
      ['/admin/plans/new', 'admin-plan-new'],
    ] as const) {
      await visit(path, name);
    }
    await signOut();
  });

  it('finance downloads the usage CSV, or sees a clear error when metering is down', async () => {
    await signIn(world.users.finance.email, PASSWORD, new RegExp(`${portal.url}/finance$`));
    await shot('finance');
    if (meteringUp) {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByTestId('csv-download').click(),
      ]);
      expect(download.suggestedFilename()).toMatch(/^tollgate-usage-.*\.csv$/);
    } else {
      await expect
        .poll(() => page.getByTestId('metering-error').textContent())
        .toMatch(/metering service is unavailable/);
      const res = await context.request.get(`${portal.url}/finance/usage.csv`);
      expect(res.status()).toBe(503);
      expect(await res.text()).toMatch(/The metering service is unavailable right now/);
    }
    await visit('/finance/reconciliation', 'finance-reconciliation');
    await signOut();
  });

  it('no page logged a console error', () => {
    expect(visited.length).toBeGreaterThan(15);
    expect(consoleErrors).toEqual([]);
  });

  it('no page has a serious or critical accessibility violation (axe-core)', () => {
    expect(a11yViolations).toEqual([]);
  });
});
