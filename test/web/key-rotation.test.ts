// The dashboard's regenerate with an overlap (issue 17 item 5) in a real browser against a real
// server: the owner picks how long the old secret keeps working, sees the new secret once and
// until when the old one works, and both secrets answer over HTTP; the key lists show where each
// key was last used from (lastUsedFrom).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, viewerTeamId } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve(import.meta.dirname, '../../artifacts/screenshots');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'];

const statusOf = async (url: string, key: string) =>
  (
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ query: '{ viewer { keyKind } }' }),
    })
  ).status;

describe.runIf(existsSync(CHROMIUM))('regenerate with an overlap, in the dashboard', () => {
  let server: TestServer;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_MINUTE: '1000' });
    origin = server.url.replace(/\/graphql$/, '');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function openSignedIn(key: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(8_000);
    await page.goto(`${origin}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'My API keys' }).waitFor();
    return page;
  }

  it('offers none / 1 h / 24 h, shows the new secret once and the end of the overlap; both secrets work; lastUsedFrom is listed', async () => {
    const teamId = await viewerTeamId(server, server.adminKey);
    const member = await addUser(server, teamId);
    const bot = await server.services.keys.issuePersonalKey({ userId: member.user.id, teamId }, { name: 'Deploy bot' });
    expect(await statusOf(server.url, bot.secret)).toBe(200);
    await server.services.lastUsed.flush();

    const page = await openSignedIn(member.key);
    const row = page.getByRole('row', { name: /Deploy bot/ });
    await row.getByText('from 127.0.0.1').waitFor();
    await row.getByRole('button', { name: 'Regenerate' }).click();
    const overlap = page.getByLabel('Keep the old secret working');
    expect(await overlap.locator('option').allTextContents()).toEqual(['No: it stops at once', '1 hour', '24 hours']);
    await overlap.selectOption({ label: '1 hour' });
    await expect.poll(() => page.locator('#regenerate-overlap-help').textContent()).toMatch(/stops at about/);
    await mkdir(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'regenerate-overlap-choice.png'), fullPage: true });
    const asked = Date.now();
    await page.getByRole('button', { name: 'Regenerate now' }).click();

    const secret = (await page.getByTestId('one-time-secret').textContent())!;
    expect(secret).toMatch(/^kp_[0-9A-Za-z]{36}$/);
    expect(await page.getByTestId('one-time-secret-note').textContent()).toMatch(/previous secret keeps working until/);
    await row.getByTestId('previous-secret-until').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'regenerate-overlap.png'), fullPage: true });
    const stored = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: bot.apiKey.id } });
    const end = stored.previousSecretExpiresAt!.getTime();
    expect(end).toBeGreaterThanOrEqual(asked + 60 * 60_000 - 1_000);
    expect(end).toBeLessThanOrEqual(Date.now() + 60 * 60_000);
    expect(await statusOf(server.url, bot.secret)).toBe(200);
    expect(await statusOf(server.url, secret)).toBe(200);

    // The admin's team list shows the overlap and where the key was last used from.
    const admin = await openSignedIn(server.adminKey);
    await admin.getByRole('button', { name: 'Team keys' }).click();
    const teamRow = admin.getByRole('row', { name: /Deploy bot/ });
    await teamRow.getByText(/previous secret works until/).waitFor();
    await teamRow.getByText('from 127.0.0.1').waitFor();
  });
});
