// `npm run bench:dashboard`: the dashboard's weight (gzip of the built JS and CSS) and its time to
// interactive in Debian's Chromium: from navigation start until the sign-in field accepts input,
// and, signed in, until the key list is shown (median of 7 fresh browser contexts each).
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { loadConfig } from '../src/config.js';
import { DASHBOARD_DIR } from '../src/dashboard/serve.js';
import { startKeyplane } from '../src/server.js';

const assets = path.join(DASHBOARD_DIR, 'assets');
for (const file of await readdir(assets)) {
  const bytes = await readFile(path.join(assets, file));
  console.log(
    `${file.padEnd(28)} ${(bytes.length / 1024).toFixed(1).padStart(7)} KB  gzip ${(gzipSync(bytes).length / 1024).toFixed(1).padStart(6)} KB`,
  );
}

const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-dash-bench-'));

await chmod(dataDir, 0o755); // the embedded PostgreSQL runs as `postgres` when we are root
const server = await startKeyplane(loadConfig({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '10000' }));
const origin = server.url.replace(/\/graphql$/, '');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const signInReady: number[] = [];
const keysShown: number[] = [];
for (let i = 0; i < 7; i++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/`, { waitUntil: 'commit' });
  await page.getByLabel('API key').waitFor();
  signInReady.push(await page.evaluate(() => performance.now()));
  await page.getByLabel('API key').fill(server.bootstrapKey!);
  const started = await page.evaluate(() => performance.now());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('cell', { name: /kp_/ }).first().waitFor();
  keysShown.push((await page.evaluate(() => performance.now())) - started);
  await context.close();
}
console.log(
  `time to interactive (sign-in field ready after navigation start): median ${median(signInReady).toFixed(0)} ms (${signInReady.map((x) => x.toFixed(0)).join(', ')})`,
);
console.log(`sign in → key list shown: median ${median(keysShown).toFixed(0)} ms`);
await browser.close();
await server.close();
await rm(dataDir, { recursive: true, force: true });
