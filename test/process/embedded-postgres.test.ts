// The embedded PostgreSQL as a user meets it: `npm start` with no DATABASE_URL, real processes.
// SIGTERM stops PostgreSQL too; kill -9 of Keyplane leaves PostgreSQL running, and the next start
// takes it over with nothing committed lost; PostgreSQL killed under Keyplane is a quick coded
// 503 until Keyplane has restarted it, and a PostgreSQL that will not come back ends the server
// with the cause; one server per DATA_DIR; the CLI with and without a running server; the
// messages for a DATA_DIR the postgres user cannot reach and for one left by the PGlite release.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { keyplaneCli, type ServerProcess, spawnServer, startServerExpectingFailure } from '../helpers/process.js';
import { makeDataDir } from '../helpers/server.js';

const dirs: string[] = [];
const servers: ServerProcess[] = [];
afterAll(async () => {
  for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await sleep(100);
  for (const d of dirs) {
    await stopLeftPostgres(d);
    await rm(d, { recursive: true, force: true });
  }
}, 60_000);

async function newDataDir(): Promise<string> {
  const dir = await makeDataDir();
  dirs.push(dir);
  return dir;
}

const envFor = (dataDir: string, extra: Record<string, string> = {}) => ({
  PORT: '0',
  HOST: '127.0.0.1',
  DATA_DIR: dataDir,
  DATABASE_URL: '',
  REDIS_URL: '',
  LOG_LEVEL: 'info',
  ...extra,
});

async function start(dataDir: string, extra: Record<string, string> = {}) {
  const began = Date.now();
  const server = await spawnServer(envFor(dataDir, extra));
  servers.push(server);
  return { server, ms: Date.now() - began };
}

/** The pid of the PostgreSQL running on DATA_DIR, from its postmaster.pid (null: none running). */
async function postgresPid(dataDir: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    return existsSync(`/proc/${pid}`) && !/\) Z /.test(await readFile(`/proc/${pid}/stat`, 'utf8')) ? pid : null;
  } catch {
    return null;
  }
}

async function stopLeftPostgres(dataDir: string) {
  const pid = await postgresPid(dataDir);
  if (!pid) return;
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 200 && (await postgresPid(dataDir)); i++) await sleep(50);
}

async function post(url: string, key: string | null, query: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] } };
}

const healthz = (url: string) => fetch(url.replace('/graphql', '/healthz'), { signal: AbortSignal.timeout(5_000) }).then((r) => r.status);

/**
 * Memory in MB (PSS: shared pages counted once across the processes that share them, so that
 * PostgreSQL's shared buffers are not counted once per backend) of a process, with its children
 * when `tree` (PostgreSQL: postmaster + backends).
 */
async function memoryMb(pid: number, tree: boolean): Promise<number> {
  const pids = [pid];
  for (let i = 0; tree && i < pids.length; i++) {
    try {
      const children = (await readFile(`/proc/${pids[i]}/task/${pids[i]}/children`, 'utf8')).trim();
      if (children) pids.push(...children.split(' ').map(Number));
    } catch {
      /* gone */
    }
  }
  let kb = 0;
  for (const p of pids) {
    try {
      kb += Number(/Pss:\s+(\d+)/.exec(await readFile(`/proc/${p}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return Math.round(kb / 1024);
}

describe('npm start on the embedded PostgreSQL', () => {
  it('first and warm starts; SIGTERM flushes, stops PostgreSQL and exits 0', async () => {
    const dataDir = await newDataDir();
    const first = await start(dataDir);
    expect(first.server.bootstrapKey).toMatch(/^kp_/);
    expect(await readFile(path.join(dataDir, 'embedded-postgres.json'), 'utf8')).toMatch(/"port": \d+/);
    const pgPid = await postgresPid(dataDir);
    expect(pgPid).not.toBeNull();
    const key = first.server.bootstrapKey!;
    const made = await post(first.server.url, key, 'mutation { generateApiKey(input: { name: "flushed" }) { secret apiKey { id } } }');
    const secret = made.body.data.generateApiKey.secret as string;
    // Used once right before the stop: the buffered lastUsedAt must reach PostgreSQL before it stops.
    expect((await post(first.server.url, secret, '{ viewer { keyKind } }')).status).toBe(200);
    const idle = { node: await memoryMb(first.server.child.pid!, false), postgres: await memoryMb(pgPid!, true) };
    expect(await first.server.stop()).toBe(0);
    expect(await postgresPid(dataDir)).toBeNull();
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    const warm = await start(dataDir);
    expect(warm.server.bootstrapKey).toBeNull();
    const read = await post(warm.server.url, key, `{ apiKey(id: "${made.body.data.generateApiKey.apiKey.id}") { lastUsedAt } }`);
    expect(read.body.data.apiKey.lastUsedAt).not.toBeNull();
    expect(await warm.server.stop()).toBe(0);
    console.log(
      `[embedded] first start to listening ${first.ms} ms, warm start ${warm.ms} ms; idle memory (PSS): node ${idle.node} MB, postgres ${idle.postgres} MB`,
    );
  }, 90_000);

  it('kill -9 of Keyplane: PostgreSQL stays up; the next start takes it over, nothing committed is lost', async () => {
    const dataDir = await newDataDir();
    const { server } = await start(dataDir);
    const key = server.bootstrapKey!;
    const made = await post(server.url, key, 'mutation { generateApiKey(input: { name: "committed" }) { secret } }');
    const secret = made.body.data.generateApiKey.secret as string;
    const orphan = await postgresPid(dataDir);
    server.child.kill('SIGKILL');
    await new Promise((r) => server.child.once('exit', r));
    await sleep(200);
    expect(await postgresPid(dataDir)).toBe(orphan); // the orphan keeps serving

    const next = await start(dataDir);
    expect(next.server.output()).toMatch(/stopped a PostgreSQL left running/);
    expect(await postgresPid(dataDir)).not.toBe(orphan);
    const pid = await postgresPid(dataDir);
    expect(pid).not.toBeNull();
    expect(pid).not.toBe(orphan);
    expect((await post(next.server.url, secret, '{ viewer { user { email } } }')).body.data.viewer.user.email).toBe('admin@keyplane.local');
    expect(await next.server.stop()).toBe(0);
  }, 90_000);

  it('PostgreSQL killed under Keyplane: quick coded 503s, restarted by Keyplane, service resumes by itself', async () => {
    const dataDir = await newDataDir();
    const { server } = await start(dataDir);
    const key = server.bootstrapKey!;
    expect(await healthz(server.url)).toBe(200);
    const pid = (await postgresPid(dataDir))!;
    process.kill(pid, 'SIGKILL');
    // Until it is back: never a hang, never a 200 with an internal error.
    const answers: { status: number; code?: string; ms: number }[] = [];
    let up = false;
    const deadline = Date.now() + 20_000;
    while (!up && Date.now() < deadline) {
      const began = Date.now();
      // A transport failure is recorded as status 0 with the server's last output, to say why.
      const r = await post(server.url, key, '{ apiKeys { id } }').catch((error: Error) => {
        throw new Error(
          `${error.message} (${String(error.cause)}) after ${JSON.stringify(answers)}; server said: ${server.output().slice(-2_000)}`,
        );
      });
      answers.push({ status: r.status, code: r.body.errors?.[0]?.extensions?.code, ms: Date.now() - began });
      up = r.status === 200 && !r.body.errors;
      if (!up) await sleep(20);
    }
    expect(up).toBe(true);
    expect(await healthz(server.url)).toBe(200);
    expect(answers.length).toBeGreaterThan(1); // the outage was seen, not slept through
    for (const a of answers.slice(0, -1)) {
      expect(a.status).toBe(503);
      expect(a.code).toBe('SERVICE_UNAVAILABLE');
      expect(a.ms).toBeLessThan(2_000);
    }
    const restarted = await postgresPid(dataDir);
    expect(restarted).not.toBeNull();
    expect(restarted).not.toBe(pid);
    expect(server.output()).toMatch(/embedded PostgreSQL restarted/);
    expect(await server.stop()).toBe(0);
    // A fresh DATA_DIR's initdb, an outage of up to 20 s and a restart: on a machine loaded by the
    // rest of the suite this has taken most of a minute (one CI run timed out at 60 s).
  }, 120_000);

  it('/healthz is 503 at once when PostgreSQL dies, and a PostgreSQL that will not start again ends the server with the cause', async () => {
    const dataDir = await newDataDir();
    const { server } = await start(dataDir);
    const pid = (await postgresPid(dataDir))!;
    // The next starts fail: a setting PostgreSQL refuses (postgresql.auto.conf is read at start).
    await appendFile(path.join(dataDir, 'postgres', 'postgresql.auto.conf'), "shared_buffers = 'lots'\n");
    const exited = new Promise<number | null>((r) => server.child.once('exit', (code) => r(code)));
    process.kill(pid, 'SIGKILL');
    await sleep(30);
    expect(await healthz(server.url)).toBe(503);
    const code = await exited; // five tries over ~8 s
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(server.output()).toMatch(/Keyplane is stopping: The embedded PostgreSQL stopped and could not be restarted/);
    expect(server.output()).toMatch(/shared_buffers/);
    expect(await postgresPid(dataDir)).toBeNull();
  }, 60_000);

  it('a stale postmaster.pid naming a live process of the same user (after a reboot, say) is no obstacle', async () => {
    const dataDir = await newDataDir();
    const first = await start(dataDir);
    const key = first.server.bootstrapKey!;
    expect(await first.server.stop()).toBe(0);
    // A live process of the user PostgreSQL runs as, whose pid the old lock file now names.
    const asPostgres =
      process.getuid?.() === 0
        ? { uid: Number(execFileSync('id', ['-u', 'postgres'])), gid: Number(execFileSync('id', ['-g', 'postgres'])) }
        : {};
    const squatter = spawn('sleep', ['60'], { stdio: 'ignore', ...asPostgres });
    try {
      await writeFile(
        path.join(dataDir, 'postgres', 'postmaster.pid'),
        `${squatter.pid}\n${path.join(dataDir, 'postgres')}\n0\n1\n\n127.0.0.1\n0 0\nready\n`,
      );
      const next = await start(dataDir);
      expect((await post(next.server.url, key, '{ viewer { keyKind } }')).status).toBe(200);
      expect(await next.server.stop()).toBe(0);
      expect(squatter.exitCode).toBeNull(); // not ours: left alone
    } finally {
      squatter.kill();
    }
  }, 60_000);

  it('a second server on the same DATA_DIR is refused with a clear message; the first one keeps serving', async () => {
    const dataDir = await newDataDir();
    const { server } = await start(dataDir);
    const second = await startServerExpectingFailure(envFor(dataDir));
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/DATA_DIR .* is in use by another Keyplane process/);
    expect(second.stdout).not.toContain('listening');
    expect(await healthz(server.url)).toBe(200);
    expect((await post(server.url, server.bootstrapKey, '{ viewer { keyKind } }')).status).toBe(200);
    expect(await server.stop()).toBe(0);
  }, 60_000);

  it("the CLI uses the running server's PostgreSQL, or starts and stops one of its own", async () => {
    const dataDir = await newDataDir();
    const { server } = await start(dataDir);
    const during = await keyplaneCli(['bootstrap', '--team', 'While running', '--email', 'run@example.com'], envFor(dataDir));
    expect(during.stderr).toBe('');
    expect(during.code).toBe(0);
    const key = JSON.parse(during.stdout).apiKey as string;
    // The running server sees the new team at once (the key change feed).
    expect((await post(server.url, key, '{ viewer { team { name } } }')).body.data.viewer.team.name).toBe('While running');
    expect(await server.stop()).toBe(0);

    // Two commands at once, no server: the second waits for the first (never borrows its server).
    const [alone, other] = await Promise.all([
      keyplaneCli(['bootstrap', '--team', 'Alone', '--email', 'alone@example.com', '--plan', 'FREE'], envFor(dataDir)),
      keyplaneCli(['bootstrap', '--team', 'Other', '--email', 'other@example.com'], envFor(dataDir)),
    ]);
    expect(alone.stderr).toBe('');
    expect(alone.code).toBe(0);
    expect(other.stderr).toBe('');
    expect(other.code).toBe(0);
    expect(await postgresPid(dataDir)).toBeNull(); // stopped after the command
    const again = await start(dataDir);
    const viewer = await post(again.server.url, JSON.parse(alone.stdout).apiKey, '{ viewer { team { name plan } } }');
    expect(viewer.body.data.viewer.team).toEqual({ name: 'Alone', plan: 'FREE' });
    expect(await again.server.stop()).toBe(0);
  }, 90_000);

  it('a DATA_DIR left by the PGlite release is refused, untouched, with what to do', async () => {
    const dataDir = await newDataDir();
    await mkdir(path.join(dataDir, 'pglite'));
    const result = await startServerExpectingFailure(envFor(dataDir));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/earlier Keyplane release .*PGlite/);
    expect(result.stderr).toMatch(/move the pglite folder out of DATA_DIR or choose another DATA_DIR/);
    expect(existsSync(path.join(dataDir, 'postgres'))).toBe(false);
  }, 30_000);

  it.runIf(process.getuid?.() === 0)(
    'as root: a DATA_DIR the postgres user cannot reach is refused with the fix',
    async () => {
      const closed = await newDataDir();
      await chmod(closed, 0o700); // like a clone under /root
      const result = await startServerExpectingFailure(envFor(path.join(closed, 'data')));
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/runs as the unprivileged user "postgres", which cannot reach\s+DATA_DIR/);
      expect(result.stderr).toMatch(/Set DATA_DIR to a directory that user can reach/);
    },
    30_000,
  );
});
