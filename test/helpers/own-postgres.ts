// A PostgreSQL server of the test's own (initdb in a temp directory, a free port), for tests that
// stop and start the database under a running Keyplane. Never the machine's shared server.
// As root it runs as the `postgres` user (initdb and postgres refuse root).
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './process.js';

export interface OwnPostgres {
  url: string;
  port: number;
  running(): boolean;
  /** Starts it and resolves once it accepts connections. */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT): open sessions are terminated (57P01); resolves when it has exited. */
  stop(): Promise<void>;
  destroy(): Promise<void>;
  log(): string;
}

/** The directory of initdb and postgres, or null when this machine has none. */
export function postgresBinDir(): string | null {
  const candidates: string[] = [];
  if (process.env.PG_BIN_DIR) candidates.push(process.env.PG_BIN_DIR);
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // no pg_config
  }
  for (const v of ['18', '17', '16', '15', '14']) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  return candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'postgres'))) ?? null;
}

function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export async function createOwnPostgres(): Promise<OwnPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('no PostgreSQL binaries (initdb, postgres) on this machine');
  const user = runAs();
  const dir = await mkdtemp(path.join(tmpdir(), 'kp-pg-'));
  if (user) await chown(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const init = spawnSync(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'], {
    ...user,
    encoding: 'utf8',
  });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let out = '';

  async function accepting(deadline: number): Promise<void> {
    for (;;) {
      if (!child) throw new Error(`postgres exited while starting:\n${out}`);
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
      c.on('error', () => {});
      try {
        await c.connect();
        await c.end();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`postgres did not start: ${(error as Error).message}\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  const server: OwnPostgres = {
    url,
    port,
    running: () => child !== null,
    log: () => out,
    async start() {
      if (child) return;
      const args = [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'max_connections=60',
        '-c',
        'shared_buffers=32MB',
      ];
      const started = spawn(path.join(bin, 'postgres'), args, { ...user, stdio: ['ignore', 'pipe', 'pipe'] });
      child = started;
      started.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      started.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      exited = new Promise((resolve) =>
        started.once('exit', () => {
          if (child === started) child = null;
          resolve();
        }),
      );
      await accepting(Date.now() + 15_000);
    },
    async stop() {
      if (!child) return;
      child.kill('SIGINT');
      const timer = setTimeout(() => child?.kill('SIGQUIT'), 10_000);
      await exited;
      clearTimeout(timer);
      // postmaster.pid goes when the server is really down (a zombie pid may linger a while).
      for (let i = 0; i < 200 && existsSync(path.join(data, 'postmaster.pid')); i++) await new Promise((r) => setTimeout(r, 10));
    },
    async destroy() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}
