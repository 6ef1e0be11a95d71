// `keyplane migrate` as a deploy step, and MIGRATE_ON_START=false: processes on a fresh database
// (the run's PostgreSQL) and on the embedded default (a DATA_DIR of its own).
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/db/migrate.js';
import { keyplaneCli, type ServerProcess, spawnServer, startServerExpectingFailure } from '../helpers/process.js';
import { makeDataDir, makeTestEnv } from '../helpers/server.js';

const migrations = (await readMigrations()).map((m) => m.name);
const REFUSAL = new RegExp(
  `^MIGRATE_ON_START is false and ${migrations.length} database migrations are pending \\(${migrations[0]}, .* and \\d+ more\\): ` +
    'run `npx keyplane migrate` with the same configuration, then start the server again\\.$',
  'm',
);

const cleanups: (() => Promise<unknown>)[] = [];
const servers: ServerProcess[] = [];
afterAll(async () => {
  for (const server of servers) if (server.child.exitCode === null) await server.stop();
  for (const cleanup of cleanups) await cleanup();
}, 60_000);

async function freshDatabase() {
  const env = await makeTestEnv({}, { fresh: true });
  cleanups.push(() => env.cleanup());
  return env;
}

async function appliedRows(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations" ORDER BY 1');
    return rows.map((r) => r.migration_name);
  } finally {
    await client.end();
  }
}

describe('on DATABASE_URL', () => {
  it('applies every pending migration and says so, then says it is up to date', async () => {
    const { env } = await freshDatabase();
    const first = await keyplaneCli(['migrate'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(
      `${migrations.map((name) => `applied ${name}\n`).join('')}${migrations.length} migrations applied: up to date (${migrations.length} in all)\n`,
    );
    expect(first.stderr).toBe('');
    expect(await appliedRows(env.DATABASE_URL!)).toEqual(migrations);

    const second = await keyplaneCli(['migrate'], env);
    expect(second).toEqual({ code: 0, stdout: `up to date: all ${migrations.length} migrations were already applied\n`, stderr: '' });
  });

  it('two pipelines migrating at once apply each migration once (the advisory lock)', async () => {
    const { env } = await freshDatabase();
    const runs = await Promise.all([keyplaneCli(['migrate'], env), keyplaneCli(['migrate'], env)]);
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    const applied = runs.flatMap((r) => [...r.stdout.matchAll(/^applied (\S+)$/gm)].map((m) => m[1]));
    expect(applied.sort()).toEqual(migrations);
    expect(await appliedRows(env.DATABASE_URL!)).toEqual(migrations);
  });

  it('a database that does not answer: exit 1 with one line, no stack', async () => {
    const { env } = await freshDatabase();
    const result = await keyplaneCli(['migrate'], { ...env, DATABASE_URL: 'postgres://postgres:db-password@127.0.0.1:1/keyplane' });
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'keyplane: connect ECONNREFUSED 127.0.0.1:1\n' });
  });

  it('MIGRATE_ON_START=false: the server refuses a database behind its release with one sentence, and starts once keyplane migrate ran', async () => {
    const { env: base } = await freshDatabase();
    const env = { ...base, MIGRATE_ON_START: 'false' };
    const refused = await startServerExpectingFailure(env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(REFUSAL);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1); // the sentence, no stack
    expect(refused.stdout).not.toContain('listening');
    // It applied nothing: the pipeline's migrate does all of it.
    const migrated = await keyplaneCli(['migrate'], env);
    expect(migrated.stdout).toMatch(new RegExp(`^${migrations.length} migrations applied`, 'm'));

    const server = await spawnServer(env);
    servers.push(server);
    expect(server.bootstrapKey).toMatch(/^kp_/);
    expect(await server.stop()).toBe(0);
  });
});

describe('on the embedded default', () => {
  it('refused start, migrate with no server, then doctor and migrate beside a running server', async () => {
    const dataDir = await makeDataDir();
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const env = {
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      REDIS_URL: '',
      LOG_LEVEL: 'warn',
      MIGRATE_ON_START: 'false',
    };

    const refused = await startServerExpectingFailure(env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(REFUSAL);
    // The embedded PostgreSQL it started (and initialised) was stopped with it.
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    // No server running: migrate starts the embedded PostgreSQL for itself and stops it after.
    const migrated = await keyplaneCli(['migrate'], env);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(new RegExp(`^${migrations.length} migrations applied: up to date`, 'm'));
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    const server = await spawnServer(env);
    servers.push(server);
    // A server owns DATA_DIR: the commands use its PostgreSQL.
    const [doctor, again] = [await keyplaneCli(['doctor'], env), await keyplaneCli(['migrate'], env)];
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toMatch(new RegExp(`^ok {4}database {8}PostgreSQL \\d+\\.\\d+ embedded in ${dataDir}/postgres$`, 'm'));
    expect(doctor.stdout).toMatch(new RegExp(`^ok {4}migrations {6}all ${migrations.length} applied$`, 'm'));
    expect(doctor.stdout).toMatch(
      /^ok {4}encryption key {2}ENCRYPTION_KEY unset: key file .*encryption\.key \(mode 0600, key id [0-9a-f]{8}\)$/m,
    );
    expect(again.stdout).toBe(`up to date: all ${migrations.length} migrations were already applied\n`);
    // Still the server's: it answers.
    expect((await fetch(server.url.replace('/graphql', '/healthz'))).status).toBe(200);
    expect(await server.stop()).toBe(0);
  });
});
