// `npm start` as an operator runs it (issue 20): the compiled server from dist/, no transpiler, on
// the embedded default. Everything else in the suite runs the TypeScript sources; this file checks
// that the build is complete: its imports resolve, and the files the server reads at run time
// (prisma/migrations, web/dist, GraphiQL's bundle) are found from dist/.
// dist/ comes from `npm ci` (CI installs first); a checkout without a build, or whose sources are
// newer than its build, is built here first (`npm run build`).
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compiledIsCurrent, ROOT } from '../../cli/compiled.mjs';
import { graphql } from '../generated/index.js';
import { gql } from '../helpers/client.js';
import { run, spawnServer } from '../helpers/process.js';
import { makeDataDir } from '../helpers/server.js';

const Viewer = graphql(`
  query CompiledStartViewer { viewer { keyKind } }
`);

/** `npm start`'s command from package.json, as arguments to this Node.js. */
function npmStartArgs(): string[] {
  const { scripts } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const [command, ...args] = scripts.start!.split(' ');
  expect(command).toBe('node');
  return args;
}

let dataDir: string;
beforeAll(async () => {
  dataDir = await makeDataDir();
  if (!compiledIsCurrent('main.js')) {
    const built = await run('npm', ['run', 'build'], {}, 300_000);
    expect(built.code, built.stdout + built.stderr).toBe(0);
  }
}, 300_000);
afterAll(() => rm(dataDir, { recursive: true, force: true }));

it('npm start runs dist/ with no transpiler: GraphiQL URL, bootstrap key, /healthz, a query, the dashboard', async () => {
  const args = npmStartArgs();
  expect(args.join(' ')).not.toMatch(/tsx|\.ts\b/);
  const server = await spawnServer(
    { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'warn' },
    args,
  );
  try {
    // A fresh DATA_DIR: initdb, then every migration applied from prisma/migrations.
    expect(server.output()).toMatch(/^Keyplane listening on http:\/\/127\.0\.0\.1:\d+\/graphql$/m);
    expect(server.bootstrapKey).toMatch(/^kp_[0-9A-Za-z]{36}$/);

    const health = await fetch(new URL('/healthz', server.url));
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const viewer = await gql(server.url, Viewer, {}, { key: server.bootstrapKey });
    expect(viewer.status).toBe(200);
    expect(viewer.errors).toBeUndefined();
    expect(viewer.data!.viewer.keyKind).toBe('PERSONAL');

    // The printed URL is GraphiQL's, whose bundle is imported on this first request.
    const page = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const script = /<script src="(\/graphiql\/assets\/graphiql\.[0-9a-f]{16}\.js)"/.exec(await page.text())?.[1];
    expect(script).toBeDefined();
    expect((await fetch(new URL(script!, server.url))).status).toBe(200);

    // The dashboard from web/dist, found from dist/dashboard/.
    const dashboard = await fetch(new URL('/', server.url));
    expect(dashboard.status).toBe(200);
    expect(dashboard.headers.get('content-type')).toMatch(/text\/html/);
  } finally {
    expect(await server.stop()).toBe(0);
  }
  expect(server.output()).not.toMatch(/Unhandled|Error:/);
}, 120_000);
