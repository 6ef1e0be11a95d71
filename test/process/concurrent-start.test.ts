// Three Keyplane processes started at the same moment on one empty PostgreSQL database: the
// migrations are applied once (the runner holds an advisory lock), one of them bootstraps the
// team, and all three serve. Runs in every pass.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/db/migrate.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { createPostgresDatabase } from '../helpers/server.js';

describe('three instances starting together on an empty database', () => {
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];
  let database: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await database?.drop();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('apply each migration once, bootstrap once, and all serve', async () => {
    database = await createPostgresDatabase();
    const prefix = `kpcs${randomBytes(4).toString('hex')}`;
    const envs = await Promise.all(
      [1, 2, 3].map(async () => {
        const dir = await mkdtemp(path.join(tmpdir(), 'keyplane-start-'));
        dirs.push(dir);
        return { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, DATABASE_URL: database!.url, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'warn' };
      }),
    );
    const started = await Promise.allSettled(envs.map((env) => spawnServer(env)));
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    expect(started.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);

    const migrations = await readMigrations();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{
        migration_name: string;
        checksum: string;
        finished: boolean;
        rolled_back: boolean;
        steps: number;
      }>(
        `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back,
                applied_steps_count AS steps
           FROM "_prisma_migrations" ORDER BY migration_name`,
      );
      expect(rows).toEqual(
        migrations.map((m) => ({ migration_name: m.name, checksum: m.checksum, finished: true, rolled_back: false, steps: 1 })),
      );
      const teams = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM "Team"');
      expect(teams.rows[0]!.n).toBe(1);
    } finally {
      await client.end();
    }

    const keys = servers.map((s) => s.bootstrapKey).filter(Boolean);
    expect(keys).toHaveLength(1);
    for (const s of servers) {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': keys[0]! },
        body: JSON.stringify({ query: '{ viewer { keyKind } }' }),
      });
      expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { data: { viewer: { keyKind: 'PERSONAL' } } } });
    }
  }, 90_000);
});
