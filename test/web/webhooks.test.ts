// The dashboard's Webhooks page (issue 19 item 5) in a real browser (Debian's Chromium driven by
// playwright-core) against a real server and a real receiver on 127.0.0.1: an endpoint created
// (its signing secret shown once), a test event sent and listed among the deliveries until it
// succeeds, Load more past 20, the secret rotated (both signatures then verify), the endpoint
// edited, shown with the reason Keyplane disabled it, enabled again and deleted —
// each step checked on the API or at the receiver, and deliveries verified with the
// `standardwebhooks` package, an independent implementation of the signature scheme.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
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

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** Whether a delivery was signed with this secret (any of its space-separated signatures). */
function signedWith(secret: string, delivery: Received): boolean {
  try {
    new Webhook(secret).verify(delivery.body, {
      'webhook-id': String(delivery.headers['webhook-id']),
      'webhook-timestamp': String(delivery.headers['webhook-timestamp']),
      'webhook-signature': String(delivery.headers['webhook-signature']),
    });
    return true;
  } catch {
    return false;
  }
}

describe.runIf(existsSync(CHROMIUM))('the Webhooks page of the dashboard', () => {
  const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '1000', WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SECONDS: '1' });
  let browser: Browser;
  let origin: string;
  let receiver: Server;
  let receiverUrl: string;
  const received: Received[] = [];
  const cspViolations: string[] = [];

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    origin = server.url.replace(/\/graphql$/, '');
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  const asAdmin = async <T>(query: string, variables?: Record<string, unknown>): Promise<T> => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': server.adminKey },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data: T; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    return body.data;
  };
  type ApiEndpoint = {
    id: string;
    url: string;
    description: string | null;
    eventTypes: string[];
    enabled: boolean;
    disabledReason: string | null;
  };
  const endpointsOnApi = async () =>
    (await asAdmin<{ webhookEndpoints: ApiEndpoint[] }>('{ webhookEndpoints { id url description eventTypes enabled disabledReason } }'))
      .webhookEndpoints;
  const secretOn = async (page: Page) => (await page.getByTestId('one-time-secret').textContent()) ?? '';
  const testEvents = () => received.filter((r) => (JSON.parse(r.body) as { type: string }).type === 'webhook.test');

  it('creates an endpoint (secret once), sends a test, rotates, edits and deletes it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(8_000);
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${origin}/`);
    await page.getByLabel('API key').fill(server.adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await page.getByText('No webhook endpoints yet.').waitFor();

    // Create: no event type chosen is explained under the checkboxes; the API's refusal of a
    // link-local address under the URL.
    await page.getByRole('button', { name: 'New endpoint' }).click();
    await page.getByLabel('Endpoint URL').fill('http://169.254.169.254/latest');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await expect.poll(() => page.locator('#webhook-event-types-error').textContent()).toMatch(/at least one/);
    await page.getByRole('checkbox', { name: /api_key\.revoked/ }).check();
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await expect.poll(() => page.locator('#webhook-url-error').textContent()).not.toBe('');
    await page.getByLabel('Endpoint URL').fill(receiverUrl);
    await page.getByLabel('Description').fill('Incident channel');
    await page.getByRole('checkbox', { name: /api_key\.exposed/ }).check();
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByTestId('one-time-secret').waitFor();
    const firstSecret = await secretOn(page);
    expect(firstSecret).toMatch(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/);
    const row = page.locator('tr', { has: page.getByRole('cell', { name: receiverUrl }) });
    await row.getByText('Incident channel').waitFor();
    await row.locator('.tag-enabled').waitFor();
    const [created] = await endpointsOnApi();
    expect(created).toMatchObject({ url: receiverUrl, description: 'Incident channel', enabled: true });
    expect([...created.eventTypes].sort()).toEqual(['api_key.exposed', 'api_key.revoked']);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    expect(await page.getByTestId('one-time-secret').count()).toBe(0); // shown once: gone for good
    expect(await page.content()).not.toContain(firstSecret);

    // Send test: a delivery row appears; it reaches the receiver signed with the secret shown.
    await row.getByRole('button', { name: 'Send test' }).click();
    const deliveries = page.getByRole('table', { name: /Deliveries to/ });
    await deliveries.getByText('webhook.test').waitFor();
    await expect.poll(() => page.getByTestId('deliveries-total').textContent()).toBe('1 delivery');
    await expect.poll(() => testEvents().length, { timeout: 15_000 }).toBe(1);
    expect(signedWith(firstSecret, testEvents()[0])).toBe(true);
    await deliveries.locator('.tag-succeeded').waitFor({ timeout: 15_000 }); // the page reads it again by itself
    await mkdir(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'webhooks.png'), fullPage: true });

    // Rotate: the new secret once, the 24 h note; a test sent now carries both signatures.
    await row.getByRole('button', { name: 'Rotate secret' }).click();
    await expect
      .poll(async () => (await page.getByTestId('one-time-secret').count()) === 1 && (await secretOn(page)) !== firstSecret)
      .toBe(true);
    const secondSecret = await secretOn(page);
    expect(secondSecret).toMatch(/^whsec_/);
    expect(await page.getByTestId('one-time-secret-note').textContent()).toMatch(/old secret keeps signing for 24 h/);
    await page.screenshot({ path: path.join(SHOTS, 'webhooks-rotated.png'), fullPage: true });
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await row.getByRole('button', { name: 'Send test' }).click();
    await expect.poll(() => page.getByTestId('deliveries-total').textContent()).toBe('2 deliveries');
    await expect.poll(() => testEvents().length, { timeout: 15_000 }).toBe(2);
    const afterRotation = testEvents()[1];
    expect(signedWith(secondSecret, afterRotation)).toBe(true);
    expect(signedWith(firstSecret, afterRotation)).toBe(true);
    expect(String(afterRotation.headers['webhook-signature']).split(' ')).toHaveLength(2);

    // More than a page of deliveries: 20 listed, the rest behind "Load more".
    for (let i = 0; i < 19; i++) await asAdmin('mutation ($id: ID!) { sendTestWebhook(id: $id) { id } }', { id: created.id });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.getByTestId('deliveries-total').textContent()).toBe('21 deliveries');
    expect(await deliveries.locator('tbody tr').count()).toBe(20);
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => deliveries.locator('tbody tr').count()).toBe(21);
    expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    const ids = await deliveries.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-delivery-id')));
    expect(new Set(ids).size).toBe(21);

    // Edit: the form holds the current settings and the save replaces them.
    await row.getByRole('button', { name: 'Edit' }).click();
    expect(await page.getByLabel('Endpoint URL').inputValue()).toBe(receiverUrl);
    expect(await page.getByRole('checkbox', { name: /api_key\.exposed/ }).isChecked()).toBe(true);
    await page.getByLabel('Description').fill('Paging');
    await page.getByRole('checkbox', { name: /api_key\.exposed/ }).uncheck();
    await page.getByRole('checkbox', { name: /member\.deprovisioned/ }).check();
    await page.getByLabel(/^Enabled/).uncheck();
    await page.getByRole('button', { name: 'Save endpoint' }).click();
    await row.getByText('Paging').waitFor();
    await row.locator('.tag-disabled').waitFor();
    const [edited] = await endpointsOnApi();
    expect(edited).toMatchObject({ id: created.id, description: 'Paging', enabled: false });
    expect([...edited.eventTypes].sort()).toEqual(['api_key.revoked', 'member.deprovisioned']);

    // Disabled by Keyplane (as the dispatcher does after WEBHOOK_DISABLE_AFTER_HOURS of failures):
    // the reason is shown; enabling it again in the form clears it.
    const reason = 'Every delivery failed for 120 hours (last: HTTP 500)';
    await server.services.prisma.webhookEndpoint.update({ where: { id: created.id }, data: { enabled: false, disabledReason: reason } });
    await page.reload();
    await page.getByRole('button', { name: 'Webhooks' }).click();
    await row.getByText(reason).waitFor();
    await row.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel(/^Enabled/).check();
    await page.getByRole('button', { name: 'Save endpoint' }).click();
    await row.locator('.tag-enabled').waitFor();
    expect(await row.getByText(reason).count()).toBe(0);
    expect(await endpointsOnApi()).toMatchObject([{ enabled: true, disabledReason: null }]);

    // Delete, after the confirmation.
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByText('No webhook endpoints yet.').waitFor();
    expect(await endpointsOnApi()).toEqual([]);
    expect(cspViolations).toEqual([]);
    await context.close();
  }, 90_000);
});
