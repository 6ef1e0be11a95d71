// GraphiQL (issue 14, finding 11): a small page whose parts are hashed, immutable, compressed
// assets; it still works offline in a real browser; GRAPHIQL=false turns it off.
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
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

const server = useTestServer();
const off = useTestServer({ GRAPHIQL: 'false' });
let origin: string;
beforeAll(() => {
  origin = server.url.replace(/\/graphql$/, '');
});

const page = (url: string) => fetch(url, { headers: { accept: 'text/html' } });
const assetsOf = (html: string) => [...html.matchAll(/(?:src|href)="(\/graphiql\/assets\/[^"]+)"/g)].map((m) => m[1]!);

describe('the GraphiQL page', () => {
  it('is small, has no inline script, and names its parts by content hash', async () => {
    const res = await page(server.url);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html.length).toBeLessThan(2_000); // was 9 MB
    expect(html).not.toMatch(/<script>/);
    const assets = assetsOf(html);
    expect(assets.length).toBeGreaterThanOrEqual(4); // icon, styles, bundle, start script
    for (const asset of assets) expect(asset).toMatch(/\.[0-9a-f]{16}\.(js|css|ico)$/);
  });

  it('serves each part compressed (brotli or gzip) and immutable; the total sent is a fraction of 9 MB', async () => {
    const assets = assetsOf(await (await page(server.url)).text());
    let sent = 0;
    for (const asset of assets) {
      // fetch() decompresses, so the wire size is read from content-length of the raw response.
      const br = await fetch(`${origin}${asset}`, { headers: { 'accept-encoding': 'br' } });
      expect(br.status).toBe(200);
      expect(br.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(br.headers.get('content-encoding')).toBe('br');
      expect(br.headers.get('vary')).toBe('Accept-Encoding');
      sent += Number(br.headers.get('content-length'));
      await br.arrayBuffer();
      const gz = await fetch(`${origin}${asset}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(gz.headers.get('content-encoding')).toBe('gzip');
      const plain = await fetch(`${origin}${asset}`, { headers: { 'accept-encoding': 'identity' } });
      expect(plain.headers.get('content-encoding')).toBeNull();
      const plainBytes = Buffer.from(await plain.arrayBuffer());
      expect(plainBytes.length).toBe(Number(plain.headers.get('content-length')));
      // fetch() decodes: the gzip variant carries the same bytes.
      expect(Buffer.from(await gz.arrayBuffer()).equals(plainBytes)).toBe(true);
    }
    expect(sent).toBeLessThan(3_000_000);
    expect((await fetch(`${origin}/graphiql/assets/graphiql.0000000000000000.js`)).status).toBe(404);
  });

  it('is off with GRAPHIQL=false (the API still answers)', async () => {
    const res = await page(off.url);
    expect(await res.text()).not.toMatch(/graphiql/i);
    const assets = assetsOf(await (await page(server.url)).text());
    expect((await fetch(`${off.url.replace(/\/graphql$/, '')}${assets[0]}`)).status).toBe(404);
    const api = await fetch(off.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': off.adminKey },
      body: JSON.stringify({ query: '{ viewer { keyKind } }' }),
    });
    expect(await api.json()).toEqual({ data: { viewer: { keyKind: 'PERSONAL' } } });
  });
});

describe.runIf(existsSync(CHROMIUM))('GraphiQL in Chromium, offline', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  }, 60_000);
  afterAll(() => browser?.close());

  it('renders its editor and runs a query with its own assets only', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    const foreign: string[] = [];
    const failed: string[] = [];
    tab.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    tab.on('requestfailed', (r) => failed.push(r.url()));
    tab.on('pageerror', (e) => failed.push(String(e)));
    await tab.goto(server.url);
    await tab.locator('.graphiql-execute-button').waitFor({ timeout: 15_000 });
    // Run the default query with the execute button; introspection needs no key.
    await tab.locator('.graphiql-execute-button').click();
    await expect.poll(() => tab.locator('.result-window').textContent(), { timeout: 10_000 }).toMatch(/"data"|"errors"/);
    expect(foreign).toEqual([]);
    expect(failed).toEqual([]);
    await context.close();
  }, 60_000);
});
