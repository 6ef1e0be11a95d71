// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against a real
// server: sign in, generate a key and read its one-time secret, live revocations across two
// browser contexts (a notice within 2 s; sign-out when it is the page's own key), team-key
// filters and bulk revoke, and the settings flow with the exposure warning. Screenshots of each
// main page go to artifacts/screenshots (git-ignored; CI keeps them).
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gql } from '../helpers/client.js';
import { addKey, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve(import.meta.dirname, '../../artifacts/screenshots');
// The flags that work on these machines (closed network, root): see the node machine notes.
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

const Rename = graphql(`mutation WebRename($id: ID!, $name: String!) { renameApiKey(id: $id, name: $name) { id } }`);
const Report = graphql(`
  mutation WebReport($text: String!, $location: String!) { reportExposedApiKeys(text: $text, location: $location) { id } }
`);

let browser: Browser;
let origin: string;
const contexts: BrowserContext[] = [];
const cspViolations: string[] = [];

async function openSignedIn(key: string, landing = 'My API keys'): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(8_000); // a step that hangs fails with its own message, not the test's timeout
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  await page.goto(`${origin}/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: landing }).waitFor();
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

describe.runIf(existsSync(CHROMIUM))('the dashboard in Chromium', () => {
  // Several pages share the admin key here: more than a person's 60 calls a minute.
  const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '1000' });
  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    origin = server.url.replace(/\/graphql$/, '');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  }, 60_000);
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
  });

  it('is served at / with a strict CSP and cache headers; GraphiQL stays at /graphql', async () => {
    const index = await fetch(`${origin}/`);
    expect(index.status).toBe(200);
    const csp = index.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(await index.text())![1]!;
    const js = await fetch(`${origin}${asset}`);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${origin}/team`)).status).toBe(200); // a page of the app
    // Routing is by path: a health probe with a query string is still the health check; a
    // missing asset is a 404 (not the app cached for a year); a POST that is not GraphQL is 405.
    const health = await fetch(`${origin}/healthz?probe=1`);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${origin}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${origin}/`, { method: 'POST', body: '{}' })).status).toBe(405);
    const graphiql = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(graphiql.status).toBe(200);
    expect(await graphiql.text()).toMatch(/graphiql/i);
  });

  it('signs in, generates a key and shows its secret once; a bad name is explained under the field', async () => {
    const member = await addUser(server, server.teamId);
    const page = await openSignedIn(member.key);
    expect(await page.evaluate(() => location.href)).not.toContain('kp_');
    await page.getByLabel('Name').fill('x'.repeat(101));
    await page.getByRole('button', { name: 'Generate key' }).click();
    await expect.poll(() => page.locator('#key-name-error').textContent()).toMatch(/100/);
    await page.getByLabel('Name').fill('Laptop');
    await page.getByRole('button', { name: 'Generate key' }).click();
    const secret = await page.getByTestId('one-time-secret').textContent();
    expect(secret).toMatch(/^kp_[0-9A-Za-z]{36}$/);
    await expect.poll(() => page.getByText('you will not see it again').count()).toBe(1);
    await page.getByRole('cell', { name: 'Laptop', exact: true }).waitFor();
    await shot(page, 'my-keys');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    expect(await page.getByTestId('one-time-secret').count()).toBe(0);
    // A rename that is refused keeps the edit open and says why under the field.
    await page
      .getByRole('row', { name: /Laptop/ })
      .getByRole('button', { name: 'Rename' })
      .click();
    await page.getByLabel('New name').fill(' ');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect
      .poll(() =>
        page
          .locator('[id$="-error"].field-error')
          .filter({ hasText: /must not be empty/ })
          .count(),
      )
      .toBe(1);
    expect(await page.getByLabel('New name').inputValue()).toBe(' ');
  });

  it('lists more keys than one default page (the API pages lists at 50 by default)', async () => {
    const member = await addUser(server, server.teamId);
    for (let i = 0; i < 60; i += 1) {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': member.key },
        body: JSON.stringify({ query: `mutation { generateApiKey(input: { name: "bulk ${i}" }) { apiKey { id } } }` }),
      });
      expect(res.status).toBe(200);
    }
    const page = await openSignedIn(member.key);
    await expect.poll(() => page.locator('tr[data-key-id]').count()).toBe(61);
  });

  it("an admin's revocations reach the member's open page within 2 s; its own key signs it out", async () => {
    const member = await addUser(server, server.teamId);
    const spare = await addKey(server, member.user, 'CI runner');
    const memberPage = await openSignedIn(member.key);
    const adminPage = await openSignedIn(server.adminKey);
    await adminPage.getByRole('button', { name: 'Team keys' }).click();
    await adminPage.getByLabel('Search by key value').fill(spare.secret);
    await adminPage.getByLabel('Search by key value').press('Enter');
    await adminPage.getByRole('checkbox', { name: 'Select CI runner' }).check();
    adminPage.once('dialog', (d) => void d.accept());
    let started = Date.now();
    await adminPage.getByRole('button', { name: /Revoke selected/ }).click();
    await memberPage.getByText(/“CI runner”.*revoked by an admin/).waitFor({ timeout: 2_000 });
    expect(Date.now() - started).toBeLessThan(2_000);
    await shot(memberPage, 'live-revocation-toast');
    // The unread counter follows notificationAdded; the notifications page lists it.
    await expect.poll(() => memberPage.getByTestId('unread-count').textContent()).toBe('1');
    await memberPage
      .getByRole('navigation', { name: 'Pages' })
      .getByRole('button', { name: /^Notifications/ })
      .click();
    await memberPage.getByText(/"CI runner".*was revoked/).waitFor();
    await shot(memberPage, 'notifications');

    // Now the key the member's page is signed in with.
    await adminPage.getByLabel('Search by key value').fill(member.key);
    await adminPage.getByLabel('Search by key value').press('Enter');
    await adminPage.getByRole('checkbox', { name: `Select ${member.apiKey.name}` }).check();
    adminPage.once('dialog', (d) => void d.accept());
    started = Date.now();
    await adminPage.getByRole('button', { name: /Revoke selected/ }).click();
    await memberPage.getByText(/You were signed out/).waitFor({ timeout: 2_000 });
    expect(Date.now() - started).toBeLessThan(2_000);
    await memberPage.getByLabel('API key').waitFor();
    expect(await memberPage.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('team keys: status filters, creator filter and bulk revoke', async () => {
    const owner = await addUser(server, server.teamId);
    for (const name of ['alpha', 'beta', 'gamma']) await addKey(server, owner.user, name);
    const page = await openSignedIn(server.adminKey);
    await page.getByRole('button', { name: 'Team keys' }).click();
    await page.getByLabel('Creator').selectOption({ label: owner.user.name });
    // gamma is in the unfiltered list too: wait for the filtered answer, not for a name.
    await expect.poll(() => page.locator('tbody tr').count()).toBe(4); // three plus the key addUser made
    await page.getByRole('cell', { name: 'gamma', exact: true }).waitFor();
    for (const name of ['alpha', 'beta']) await page.getByRole('checkbox', { name: `Select ${name}` }).check();
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke selected (2)' }).click();
    await page.getByText('2 key(s) revoked.').waitFor();
    await page.getByRole('checkbox', { name: 'revoked' }).check();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(2);
    await shot(page, 'team-keys');
  });

  it('collections: a bad request list is explained under its field; share shows a new key once, which sees only its collection', async () => {
    const page = await openSignedIn(server.adminKey);
    await page.getByRole('button', { name: 'Collections' }).click();
    await page.getByRole('button', { name: 'New collection' }).click();
    await page.getByLabel('Name').fill('Payments API');
    await page.getByLabel('Requests (JSON)').fill('[{"name": "Charge", "method": "YEET", "url": "https://pay.example/charge"}]');
    await page.getByRole('button', { name: 'Save collection' }).click();
    await expect.poll(() => page.locator('#collection-requests-error').textContent()).toMatch(/method/);
    await page.getByLabel('Requests (JSON)').fill('[{"name": "Charge", "method": "POST", "url": "https://pay.example/charge"}]');
    await page.getByRole('button', { name: 'Save collection' }).click();
    const row = page.getByRole('row', { name: /Payments API/ });
    await row.getByRole('button', { name: 'Share' }).click();
    const secret = (await page.getByTestId('one-time-secret').textContent())!;
    expect(secret).toMatch(/^kpc_[0-9A-Za-z]{36}$/);
    await shot(page, 'collections');

    const reader = await openSignedIn(secret, 'Collection “Payments API” (read-only)');
    await reader.getByRole('cell', { name: 'https://pay.example/charge' }).waitFor();
    expect(await reader.getByRole('button', { name: 'Team keys' }).count()).toBe(0);
  });

  it('audit: filtered by action, with the actor; the time range exports as a CSV file', async () => {
    const member = await addUser(server, server.teamId);
    const renamed = `renamed-${Date.now()}`;
    expect((await gql(server.url, Rename, { id: member.apiKey.id, name: renamed }, { key: member.key })).errors).toBeUndefined();
    const page = await openSignedIn(server.adminKey);
    await page.getByRole('button', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
    await page.getByLabel('Action').selectOption('api_key.renamed');
    const row = page.getByRole('row', { name: new RegExp(renamed) });
    await row.waitFor();
    expect(await row.textContent()).toContain(member.user.name);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await shot(page, 'audit');

    const local = (offsetDays: number) => {
      const at = new Date(Date.now() + offsetDays * 86_400_000 - new Date().getTimezoneOffset() * 60_000);
      return at.toISOString().slice(0, 16); // datetime-local: the browser's local time
    };
    await page.getByLabel('From').fill(local(-1));
    await page.getByLabel('To').fill(local(1));
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export the time range' }).click();
    const csv = await readFile((await (await download).path())!, 'utf8');
    expect(csv.split('\r\n', 1)[0]).toBe('at,action,actorType,actorId,actorKeyHint,targetType,targetId,summary,address,userAgent');
    expect(csv).toContain(`api_key.renamed,USER,${member.user.id}`);
  });

  it('settings: turning auto revoke on with open exposures warns, then IGNORE turns it on', async () => {
    const leaker = await addUser(server, server.teamId);
    await gql(server.url, Report, { text: leaker.key, location: 'https://paste.example/1' }, { key: server.adminKey });
    const page = await openSignedIn(server.adminKey);
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Auto revoke exposed API keys').check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText(/1 exposed key finding\(s\) are still open/).waitFor();
    await shot(page, 'settings-warning');
    await page.getByRole('button', { name: 'Ignore them and turn it on' }).click();
    await page.getByText(/^Saved\./).waitFor();
    expect(await page.getByRole('alert').count()).toBe(0); // the warning is gone
    expect(await page.getByLabel('Auto revoke exposed API keys').isChecked()).toBe(true);
    await page.getByRole('cell', { name: /paste\.example/ }).waitFor();
    await shot(page, 'settings');
    expect(cspViolations).toEqual([]);
  });

  it('settings: expiry reminder days are edited (a repeated day is explained under the field); a reminder shows among the notifications', async () => {
    const page = await openSignedIn(server.adminKey);
    await page.getByRole('button', { name: 'Settings' }).click();
    const field = page.getByLabel(/^Expiry reminders/);
    await expect.poll(() => field.inputValue()).toBe('7, 1');
    await field.fill('7, 7');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.locator('#reminder-days-error').textContent()).toMatch(/repeat/);
    await field.fill('3, 14');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText(/^Saved\./).waitFor();
    await expect.poll(() => field.inputValue()).toBe('14, 3');

    const owner = await addUser(server, server.teamId);
    const expiring = await server.services.keys.issuePersonalKey(
      { userId: owner.user.id, teamId: server.teamId },
      { name: 'Nightly export', expiresInDays: 10 },
    );
    const subscribed = server.services.subscriptions.total;
    const ownerPage = await openSignedIn(owner.key);
    // The page's three live subscriptions are open before the job runs (or its toast is missed).
    await expect.poll(() => server.services.subscriptions.total).toBeGreaterThanOrEqual(subscribed + 3);
    await server.services.expiryReminders.run(); // the job's next run, without waiting its period
    await ownerPage.getByText(/“Nightly export”.*expires in 10 days/).waitFor({ timeout: 2_000 }); // the live toast
    await ownerPage
      .getByRole('navigation', { name: 'Pages' })
      .getByRole('button', { name: /^Notifications/ })
      .click();
    const item = ownerPage.getByRole('listitem').filter({ hasText: `"Nightly export" (kp_…${expiring.apiKey.hint}) expires in 10 days` });
    await item.getByText('Expiring', { exact: true }).waitFor();
    await shot(ownerPage, 'notifications-expiring');
    expect(cspViolations).toEqual([]);
  });
});
