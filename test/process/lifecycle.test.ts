// The server and the CLI as processes on the embedded defaults: first start, restart, SIGTERM, bad config.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gql } from '../helpers/client.js';
import { keyplaneCli, spawnServer, startServerExpectingFailure } from '../helpers/process.js';
import { makeDataDir } from '../helpers/server.js';

const Generate = graphql(`
  mutation LifecycleGenerate($name: String!) {
    generateApiKey(input: { name: $name }) { secret apiKey { id } }
  }
`);
const Whoami = graphql(`
  query LifecycleWhoami { viewer { user { email role } team { name plan } } apiKeys { id } }
`);

const LastUsed = graphql(`
  query LifecycleLastUsed($id: ID!) { apiKey(id: $id) { lastUsedAt } }
`);

// The embedded default: no DATABASE_URL, a DATA_DIR of its own (PostgreSQL initialised on first start).
let testEnv: { dataDir: string; env: Record<string, string> };
beforeAll(async () => {
  const dataDir = await makeDataDir();
  testEnv = { dataDir, env: { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'warn' } };
});
afterAll(() => rm(testEnv.dataDir, { recursive: true, force: true }));

describe('npm start', () => {
  it('bootstraps once, survives a restart, stops cleanly on SIGTERM, and the CLI works with no server running', async () => {
    const first = await spawnServer(testEnv.env);
    expect(first.output()).toMatch(/^Keyplane listening on http:\/\/127\.0\.0\.1:\d+\/graphql$/m);
    expect(first.bootstrapKey).toMatch(/^kp_/);
    const adminKey = first.bootstrapKey!;
    const created = await gql(first.url, Generate, { name: 'survives restart' }, { key: adminKey });
    const secret = created.data!.generateApiKey.secret;
    // Used once, then a quick stop: the buffered lastUsedAt must be flushed on SIGTERM.
    expect((await gql(first.url, Whoami, {}, { key: secret })).status).toBe(200);

    expect(await first.stop()).toBe(0);
    expect(first.output()).not.toMatch(/Unhandled|Error:/);
    expect(existsSync(path.join(testEnv.dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    const second = await spawnServer(testEnv.env);
    try {
      expect(second.bootstrapKey).toBeNull();
      expect(second.output()).not.toContain('Bootstrap admin key');
      const me = await gql(second.url, Whoami, {}, { key: adminKey });
      expect(me.data!.viewer).toEqual({
        user: { email: 'admin@keyplane.local', role: 'SUPER_ADMIN' },
        team: { name: 'My team', plan: 'ENTERPRISE' },
      });
      expect(me.data!.apiKeys.map((k) => k.id)).toContain(created.data!.generateApiKey.apiKey.id);
      const used = await gql(second.url, LastUsed, { id: created.data!.generateApiKey.apiKey.id }, { key: adminKey });
      expect(used.data!.apiKey!.lastUsedAt).not.toBeNull();
      expect((await gql(second.url, Whoami, {}, { key: secret })).status).toBe(200);
    } finally {
      expect(await second.stop()).toBe(0);
    }

    // With no server running, the CLI creates a team and prints one JSON object.
    const made = await keyplaneCli(
      ['bootstrap', '--team', 'Second', '--email', 'two@example.com', '--name', 'Two', '--plan', 'FREE'],
      testEnv.env,
    );
    expect(made.code).toBe(0);
    const result = JSON.parse(made.stdout) as { teamId: string; userId: string; apiKey: string };
    expect(Object.keys(result).sort()).toEqual(['apiKey', 'teamId', 'userId']);
    expect(result.apiKey).toMatch(/^kp_[0-9A-Za-z]{36}$/);

    const third = await spawnServer(testEnv.env);
    try {
      const me = await gql(third.url, Whoami, {}, { key: result.apiKey });
      expect(me.data!.viewer).toEqual({
        user: { email: 'two@example.com', role: 'SUPER_ADMIN' },
        team: { name: 'Second', plan: 'FREE' },
      });
    } finally {
      expect(await third.stop()).toBe(0);
    }
  }, 120_000);
});

describe('keyplane bootstrap', () => {
  it('rejects bad options with exit 1 and a message', async () => {
    const bad = await keyplaneCli(['bootstrap', '--team', 'X', '--email', 'not-an-email'], testEnv.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--email: must be an email address/);
    const plan = await keyplaneCli(['bootstrap', '--team', 'X', '--email', 'x@example.com', '--plan', 'GOLD'], testEnv.env);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/--plan/);
  }, 60_000);

  it('accepts any RFC 5321 address, a@b.c included', async () => {
    const made = await keyplaneCli(['bootstrap', '--team', 'Tiny', '--email', 'a@b.c'], testEnv.env);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout).apiKey).toMatch(/^kp_[0-9A-Za-z]{36}$/);
  }, 60_000);
});

describe.concurrent('configuration', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['RATE_LIMIT_PER_MINUTE', '0'],
    ['DATABASE_URL', 'mysql://nope'],
    ['LOG_LEVEL', 'loud'],
    ['EMAIL_LEASE_SECONDS', '0'],
  ])('a bad %s (%s) stops the start with a message naming it', async (name, value) => {
    const result = await startServerExpectingFailure({ ...testEnv.env, [name]: value });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${name}:`);
    expect(result.stdout).not.toContain('listening');
  });

  it('never echoes a secret-bearing value', async () => {
    const result = await startServerExpectingFailure({ ...testEnv.env, KEY_PEPPER: 'short-secret' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('KEY_PEPPER:');
    expect(result.stderr).not.toContain('short-secret');
  });
});
