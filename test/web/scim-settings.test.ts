// The dashboard's SCIM section (Settings; issue 18 item 5) in a real browser (Debian's Chromium
// driven by playwright-core) against a real server: the switch, the base URL, a SCIM key
// generated (its secret once), regenerated keeping the old secret 24 h, then revoked — each step
// checked on /scim/v2 itself.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve(import.meta.dirname, '../../artifacts/screenshots');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe.runIf(existsSync(CHROMIUM))('the SCIM section of the dashboard', () => {
  const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '1000' });
  let browser: Browser;
  let origin: string;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    origin = server.url.replace(/\/graphql$/, '');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  const scimStatus = async (key: string) =>
    (await fetch(`${origin}/scim/v2/ServiceProviderConfig`, { headers: { authorization: `Bearer ${key}` } })).status;
  const secretOn = async (page: Page) => (await page.getByTestId('one-time-secret').textContent()) ?? '';

  it('turns SCIM on, generates, regenerates with a keep window and revokes a SCIM key', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(8_000);
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(`${origin}/`);
    await page.getByLabel('API key').fill(server.adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'SCIM provisioning' }).waitFor();
    expect(await page.getByTestId('scim-base-url').textContent()).toBe(`${origin}/scim/v2`);

    // A bad name is explained under the field.
    await page.getByLabel('SCIM key name').fill('x'.repeat(101));
    await page.getByRole('button', { name: 'Generate SCIM key' }).click();
    await expect.poll(() => page.locator('#scim-key-name-error').textContent()).toMatch(/100/);
    await page.getByLabel('SCIM key name').fill('Okta');
    await page.getByRole('button', { name: 'Generate SCIM key' }).click();
    await page.getByTestId('one-time-secret').waitFor();
    const first = await secretOn(page);
    expect(first).toMatch(/^kps_[0-9A-Za-z]{36}$/);
    await page.getByRole('cell', { name: 'Okta', exact: true }).waitFor();
    expect(await scimStatus(first)).toBe(403); // SCIM is still off

    await page.getByLabel(/Enable SCIM provisioning/).check();
    await expect.poll(() => scimStatus(first)).toBe(200);
    await page.getByRole('button', { name: 'I have saved it' }).click();

    const row = page.locator('tr', { has: page.getByRole('cell', { name: 'Okta', exact: true }) });
    await row.getByLabel('Keep the previous secret of Okta').selectOption('24');
    await row.getByRole('button', { name: 'Regenerate' }).click();
    await expect.poll(async () => (await page.getByTestId('one-time-secret').count()) === 1 && (await secretOn(page)) !== first).toBe(true);
    const second = await secretOn(page);
    expect(await page.getByTestId('one-time-secret-note').textContent()).toMatch(/keeps working until/);
    await row.getByText(/works until/).waitFor();
    expect(await scimStatus(first)).toBe(200);
    expect(await scimStatus(second)).toBe(200);
    await mkdir(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'settings-scim.png'), fullPage: true });

    await page.getByRole('button', { name: 'I have saved it' }).click();
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.locator('.tag-revoked').waitFor();
    expect(await row.getByRole('button', { name: 'Regenerate' }).count()).toBe(0);
    expect(await scimStatus(first)).toBe(401);
    expect(await scimStatus(second)).toBe(401);
    expect(cspViolations).toEqual([]);
    await context.close();
  });
});
