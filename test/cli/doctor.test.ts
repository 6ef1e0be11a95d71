// `keyplane doctor` as an operator runs it: a process, one line per check, exit 0 or 1, on a
// healthy deployment and on broken ones (never a stack, never a secret-bearing value).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/db/migrate.js';
import { freePort, keyplaneCli, type RunResult } from '../helpers/process.js';
import { makeTestEnv, onRedis } from '../helpers/server.js';
import { startSmtp } from '../helpers/smtp.js';

type TestEnv = Awaited<ReturnType<typeof makeTestEnv>>;
const envs: TestEnv[] = [];
afterAll(async () => {
  for (const env of envs) await env.cleanup();
});
async function testEnv(extra: Record<string, string> = {}, options: { fresh?: boolean } = {}) {
  const env = await makeTestEnv(extra, options);
  envs.push(env);
  return env;
}

const doctor = (env: Record<string, string>, args: string[] = []) => keyplaneCli(['doctor', ...args], env);
/** The status and detail of one check's line ("ok    database        PostgreSQL 17.2 at …"). */
function line(result: RunResult, check: string): { status: string; detail: string } | undefined {
  const match = new RegExp(`^(ok|warn|fail) +${check} +(.*)$`, 'm').exec(result.stdout);
  return match ? { status: match[1]!, detail: match[2]! } : undefined;
}
function expectNoStack(result: RunResult) {
  const all = result.stdout + result.stderr;
  expect(all).not.toMatch(/^\s+at /m);
  expect(all).not.toMatch(/Error:|Unhandled/);
}

const migrationCount = (await readMigrations()).length;
const githubKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('on a healthy deployment', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let env: TestEnv;
  const encryptionKey = randomBytes(32).toString('base64');
  const gitlabToken = randomBytes(24).toString('hex');
  beforeAll(async () => {
    const smtpPort = await freePort();
    smtp = await startSmtp(smtpPort);
    env = await testEnv({
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      PUBLIC_URL: 'https://keys.example.com/',
      ENCRYPTION_KEY: encryptionKey,
      GITLAB_REVOCATION_TOKEN: gitlabToken,
      GITHUB_SCANNING_PUBLIC_KEYS: JSON.stringify({ public_keys: [{ key_identifier: 'k1', key: githubKey }] }),
    });
  });
  afterAll(() => smtp?.close());

  it('prints one ok line per check and exits 0', async () => {
    const result = await doctor(env.env);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(line(result, 'configuration')?.status).toBe('ok');
    expect(line(result, 'database')).toEqual({
      status: 'ok',
      detail: expect.stringMatching(/^PostgreSQL \d+\.\d+ at 127\.0\.0\.1:\d+\/kp_test_\w+$/),
    });
    expect(line(result, 'migrations')).toEqual({ status: 'ok', detail: `all ${migrationCount} applied` });
    if (onRedis) expect(line(result, 'redis')).toEqual({ status: 'ok', detail: expect.stringMatching(/^PING answered by Redis \S+ at /) });
    else expect(line(result, 'redis')?.status).toBe('ok');
    expect(line(result, 'smtp')).toEqual({ status: 'ok', detail: expect.stringMatching(/^127\.0\.0\.1:\d+ accepted the connection$/) });
    expect(line(result, 'github intake')).toEqual({ status: 'ok', detail: '1 GitHub public key loaded' });
    expect(line(result, 'gitlab intake')).toEqual({ status: 'ok', detail: 'GITLAB_REVOCATION_TOKEN set' });
    expect(line(result, 'encryption key')).toEqual({
      status: 'ok',
      detail: expect.stringMatching(/^ENCRYPTION_KEY set \(key id [0-9a-f]{8}\)$/),
    });
    expect(line(result, 'public url')).toEqual({ status: 'ok', detail: 'https://keys.example.com' });
    expect(result.stdout).toMatch(/^doctor: 9 ok, 0 warn, 0 fail$/m);
    // Aligned: the detail column starts at the same place on every line.
    const starts = result.stdout
      .split('\n')
      .filter((l) => /^(ok|warn|fail) /.test(l))
      .map((l) => /^\S+ +\S+(?: \S+)? +/.exec(l)?.[0].length);
    expect(new Set(starts).size).toBe(1);
    // Secrets are never printed: the database password, the encryption key, the GitLab token.
    const password = new URL(env.env.DATABASE_URL!).password;
    for (const secret of [encryptionKey, gitlabToken, ...(password ? [password] : [])]) expect(result.stdout).not.toContain(secret);
  });

  it('--json gives the same checks to a machine', async () => {
    const result = await doctor(env.env, ['--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { ok: boolean; checks: { check: string; status: string; detail: string }[] };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.check)).toEqual([
      'configuration',
      'database',
      'migrations',
      'redis',
      'smtp',
      'github intake',
      'gitlab intake',
      'encryption key',
      'public url',
    ]);
    expect(report.checks.every((c) => c.status === 'ok')).toBe(true);
  });

  it('the settings left unset are warnings, not failures', async () => {
    const result = await doctor({
      ...env.env,
      SMTP_URL: '',
      PUBLIC_URL: '',
      ENCRYPTION_KEY: '',
      GITLAB_REVOCATION_TOKEN: '',
      GITHUB_SCANNING_PUBLIC_KEYS: '',
    });
    expect(result.code).toBe(0);
    expect(line(result, 'smtp')?.status).toBe('warn');
    expect(line(result, 'github intake')).toEqual({
      status: 'warn',
      detail: 'GITHUB_SCANNING_PUBLIC_KEYS unset: POST /scanner/github refuses everything',
    });
    expect(line(result, 'gitlab intake')?.status).toBe('warn');
    // DATABASE_URL without ENCRYPTION_KEY: several instances would not read each other's secrets.
    expect(line(result, 'encryption key')).toEqual({
      status: 'warn',
      detail: expect.stringMatching(/^ENCRYPTION_KEY unset: .*instances sharing this database must share one ENCRYPTION_KEY$/),
    });
    expect(line(result, 'public url')?.status).toBe('warn');
    expect(result.stdout).toMatch(/^doctor: 4 ok, 5 warn, 0 fail$/m);
  });
});

describe('on a broken deployment', () => {
  it('an invalid setting: the configuration fails, naming the variable, never echoing a secret', async () => {
    const env = await testEnv();
    const result = await doctor({ ...env.env, RATE_LIMIT_PER_MINUTE: 'sixty', KEY_PEPPER: 'short-secret' });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^fail {2}configuration {2}\S/m);
    expect(result.stdout).toMatch(/RATE_LIMIT_PER_MINUTE: .*\(got "sixty"\)/);
    expect(result.stdout).toMatch(/KEY_PEPPER: must be at least 16 characters$/m);
    expect(result.stdout).not.toContain('short-secret');
    expect(result.stdout).toMatch(/^doctor: the configuration is invalid/m);
    expectNoStack(result);
  });

  it('a database, Redis and SMTP server that do not answer: one fail line each', async () => {
    const env = await testEnv();
    const [dbPort, redisPort, smtpPort] = [await freePort(), await freePort(), await freePort()];
    const result = await doctor({
      ...env.env,
      DATABASE_URL: `postgres://postgres:db-password@127.0.0.1:${dbPort}/keyplane`,
      REDIS_URL: `redis://:redis-password@127.0.0.1:${redisPort}`,
      SMTP_URL: `smtp://mailer:smtp-password@127.0.0.1:${smtpPort}`,
    });
    expect(result.code).toBe(1);
    expect(line(result, 'configuration')?.status).toBe('ok');
    expect(line(result, 'database')).toEqual({
      status: 'fail',
      detail: `cannot use the database at 127.0.0.1:${dbPort}/keyplane: connect ECONNREFUSED 127.0.0.1:${dbPort}`,
    });
    expect(line(result, 'migrations')).toBeUndefined(); // unknown: not reported as anything
    expect(line(result, 'redis')).toEqual({
      status: 'fail',
      detail: `no answer from 127.0.0.1:${redisPort}: connect ECONNREFUSED 127.0.0.1:${redisPort}`,
    });
    expect(line(result, 'smtp')).toEqual({ status: 'fail', detail: `127.0.0.1:${smtpPort}: connect ECONNREFUSED 127.0.0.1:${smtpPort}` });
    expect(result.stdout).toMatch(/^doctor: \d+ ok, \d+ warn, 3 fail$/m);
    expect(result.stdout + result.stderr).not.toMatch(/db-password|redis-password|smtp-password/);
    expectNoStack(result);
  });

  it('pending migrations: a warning while the server applies them at start, a failure with MIGRATE_ON_START=false', async () => {
    const env = await testEnv({}, { fresh: true });
    const pending = `0 applied, ${migrationCount} pending (20261123021034_init, `;

    const byDefault = await doctor(env.env);
    expect(byDefault.code).toBe(0);
    expect(line(byDefault, 'migrations')).toEqual({
      status: 'warn',
      detail: expect.stringMatching(
        new RegExp(`^${pending.replace(/[()]/g, '\\$&')}.*: the server applies them at start \\(or run keyplane migrate\\)$`),
      ),
    });

    const leftToThePipeline = await doctor({ ...env.env, MIGRATE_ON_START: 'false' });
    expect(leftToThePipeline.code).toBe(1);
    expect(line(leftToThePipeline, 'migrations')).toEqual({
      status: 'fail',
      detail: expect.stringMatching(/ and \d+ more\): with MIGRATE_ON_START=false the server refuses to start; run keyplane migrate$/),
    });
    expect(line(leftToThePipeline, 'database')?.status).toBe('ok');
    expectNoStack(leftToThePipeline);

    // doctor changed nothing: the database is still empty.
    expect(line(await doctor(env.env), 'migrations')?.detail).toMatch(/^0 applied/);
  });
});
