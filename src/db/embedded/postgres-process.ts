// One PostgreSQL server process on a data directory: initdb, start, stop, and a server left
// running by a Keyplane that was killed (-9). The traps met on the way are in NOTES.md.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, readFile, readlink, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedPostgresError, type Runtime } from './runtime.js';

/**
 * PostgreSQL's messages in English whatever the machine's locale (readiness is read from them),
 * and nothing else of Keyplane's environment: as root it runs as a shared system user, whose
 * other processes may read /proc/<pid>/environ (KEY_PEPPER, SMTP and Redis credentials…).
 */
const ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  ...(process.env.TZ ? { TZ: process.env.TZ } : {}),
  LC_MESSAGES: 'C',
  LC_ALL: 'C',
};
const STOP_TIMEOUT_MS = 15_000;
const READY_TIMEOUT_MS = 120_000; // crash recovery of a large WAL may take a while

/** The last lines PostgreSQL printed: the cause of a failure is only there. */
export class OutputTail {
  private lines: string[] = [];
  push(chunk: string) {
    for (const line of chunk.split('\n')) if (line.trim()) this.lines.push(line.trim());
    if (this.lines.length > 40) this.lines.splice(0, this.lines.length - 40);
  }
  /** The lines that say what went wrong, else the last few. */
  cause(): string {
    const bad = this.lines.filter(
      (l) =>
        /\b(FATAL|PANIC|ERROR|DETAIL|HINT)\b|invalid|could not|No such file|Permission denied/.test(l) &&
        !/unexpected postmaster exit/.test(l),
    );
    return (bad.length > 0 ? bad : this.lines).slice(-5).join('\n') || '(no output)';
  }
}

export async function initdb(runtime: Runtime, pgData: string, user: string, password: string): Promise<void> {
  // initdb into a side directory, renamed into place once complete: a start cut short never
  // leaves a half-initialised cluster that later starts would trip over.
  const partial = `${pgData}.initdb`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { mode: 0o700 });
  const pwFile = path.join(partial, '..', `.pwfile-${process.pid}`);
  await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (runtime.runAs) {
    await chown(partial, runtime.runAs.uid, runtime.runAs.gid);
    await chown(pwFile, runtime.runAs.uid, runtime.runAs.gid);
  }
  const tail = new OutputTail();
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(
        path.join(runtime.binDir, 'initdb'),
        [
          `--pgdata=${partial}`,
          '--auth=scram-sha-256',
          `--username=${user}`,
          `--pwfile=${pwFile}`,
          '--encoding=UTF8',
          '--no-locale',
          '--no-instructions',
        ],
        { env: ENV, stdio: ['ignore', 'pipe', 'pipe'], ...(runtime.runAs ? { uid: runtime.runAs.uid, gid: runtime.runAs.gid } : {}) },
      );
      child.stdout!.on('data', (c: Buffer) => tail.push(c.toString()));
      child.stderr!.on('data', (c: Buffer) => tail.push(c.toString()));
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) throw new EmbeddedPostgresError(`initdb failed (exit ${code}):\n${tail.cause()}`);
  } finally {
    await rm(pwFile, { force: true });
  }
  await rename(partial, pgData);
}

interface PidFile {
  pid: number;
  dataDir: string;
}

async function readPidFile(pgData: string): Promise<PidFile | null> {
  try {
    const lines = (await readFile(path.join(pgData, 'postmaster.pid'), 'utf8')).split('\n');
    const pid = Number(lines[0]);
    return Number.isInteger(pid) && pid > 0 ? { pid, dataDir: lines[1] ?? '' } : null;
  } catch {
    return null;
  }
}

/** 'gone', a zombie not yet reaped by init, or alive (and then whether it is postgres on `pgData`). */
async function processState(pid: number, pgData: string): Promise<'gone' | 'zombie' | 'ours' | 'other'> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 'gone';
  }
  if (/\) Z /.test(stat)) return 'zombie';
  try {
    const [exe, cwd, real] = await Promise.all([readlink(`/proc/${pid}/exe`), readlink(`/proc/${pid}/cwd`), realpath(pgData)]);
    return path.basename(exe).startsWith('postgres') && cwd === real ? 'ours' : 'other';
  } catch {
    return 'other';
  }
}

/**
 * Until the server is gone: its process, or its postmaster.pid (removed as the very last step of
 * a shutdown; an orphan's exit is reaped late by init, and its zombie lingers for a second or two).
 */
async function waitGone(pid: number, pgData: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = await processState(pid, pgData);
    if (state === 'gone' || state === 'other') return true;
    if (state === 'zombie' && !existsSync(path.join(pgData, 'postmaster.pid'))) return true;
    await sleep(10);
  }
  return false;
}

/**
 * Before a start: a postgres still running on this directory was left by a Keyplane that died
 * without stopping it (we hold the DATA_DIR lock, so no live Keyplane owns it). It is stopped
 * with a fast shutdown (committed data is kept) so that this process starts, and watches, its
 * own. A zombie of a killed postgres is waited for: its pid would make the next start refuse.
 * Returns the pid that was stopped, if any.
 */
export async function clearLeftover(pgData: string): Promise<number | null> {
  const file = await readPidFile(pgData);
  if (!file) return null;
  const state = await processState(file.pid, pgData);
  if (state === 'zombie') {
    // A killed postgres: its pid in postmaster.pid makes a start refuse until init reaps it.
    const deadline = Date.now() + 10_000;
    while ((await processState(file.pid, pgData)) === 'zombie' && Date.now() < deadline) await sleep(10);
    return null;
  }
  if (state !== 'ours') {
    // A stale file (a reboot, a power cut): its pid may now be any live process of the same user,
    // which makes postgres refuse ("lock file already exists"). We hold the DATA_DIR lock and no
    // postgres runs on this directory: the file is nobody's.
    await rm(path.join(pgData, 'postmaster.pid'), { force: true });
    return null;
  }
  await signalAndWait(file.pid, pgData);
  return file.pid;
}

async function signalAndWait(pid: number, pgData: string) {
  const send = (signal: NodeJS.Signals) => {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  };
  send('SIGINT'); // fast shutdown
  if (await waitGone(pid, pgData, STOP_TIMEOUT_MS)) return;
  send('SIGQUIT'); // immediate shutdown: crash recovery at the next start
  if (await waitGone(pid, pgData, 5_000)) return;
  send('SIGKILL');
  await waitGone(pid, pgData, 5_000);
}

export interface StartedPostgres {
  child: ChildProcess;
  tail: OutputTail;
  /** Resolves with the exit code or signal when the server process ends, however it ends. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

export async function startPostgres(
  runtime: Runtime,
  pgData: string,
  port: number,
  settings: Record<string, string>,
): Promise<StartedPostgres> {
  const flags = Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const tail = new OutputTail();
  const child = spawn(path.join(runtime.binDir, 'postgres'), ['-D', pgData, '-p', String(port), ...flags], {
    env: ENV,
    // Its own process group: a Ctrl-C in the terminal reaches Keyplane only, which flushes its
    // buffers to the database before it stops PostgreSQL.
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(runtime.runAs ? { uid: runtime.runAs.uid, gid: runtime.runAs.gid } : {}),
  });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? `exit code ${code}`));
    child.once('error', (error) => resolve(error.message));
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGQUIT'); // not left running behind a start that gave up on it
      reject(new EmbeddedPostgresError(`PostgreSQL did not become ready within ${READY_TIMEOUT_MS / 1000} s:\n${tail.cause()}`));
    }, READY_TIMEOUT_MS);
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      tail.push(text);
      if (text.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new EmbeddedPostgresError(`PostgreSQL stopped while starting (${how}):\n${tail.cause()}`));
    });
  });
  return {
    child,
    tail,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      const timeout = sleep(STOP_TIMEOUT_MS, 'timeout', { ref: false });
      if ((await Promise.race([exited, timeout])) !== 'timeout') return;
      child.kill('SIGQUIT');
      await Promise.race([exited, sleep(5_000, '', { ref: false })]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Whether initdb has run on `pgData`; a directory this user may not read is an error, not "no". */
export async function isInitialised(pgData: string): Promise<boolean> {
  try {
    await stat(path.join(pgData, 'PG_VERSION'));
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    throw new EmbeddedPostgresError(
      `Keyplane cannot read ${pgData} (${code}): it belongs to another user. Was it first started as root? ` +
        'Start Keyplane as that user again, or give this one a DATA_DIR of its own.',
    );
  }
}
