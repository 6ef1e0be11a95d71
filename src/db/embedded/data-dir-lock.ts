// One Keyplane process owns a DATA_DIR's embedded PostgreSQL at a time (a server, or the CLI
// when no server runs). PostgreSQL's own postmaster.pid does not stop a second Keyplane from
// adopting or stopping the first one's server, so Keyplane holds its own lock: a Linux abstract
// Unix socket named after the directory. The kernel frees it when the holder dies, even by
// kill -9 (a lock file would go stale and need a timeout), and postgres does not inherit it.
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import path from 'node:path';
import lockfile from 'proper-lockfile';

/** Who holds a DATA_DIR: a server (whose PostgreSQL the CLI may use) or a CLI command (short). */
export type LockHolder = 'server' | 'cli';

export class DataDirLockedError extends Error {
  constructor(
    dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by another Keyplane process (a running server, or the keyplane ` +
        'command line): one server per DATA_DIR. Stop that server first, or give this one a DATA_DIR ' +
        'of its own; to run several servers on one database, use PostgreSQL (DATABASE_URL).',
    );
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

export async function acquireDataDirLock(dataDir: string, holder: LockHolder): Promise<DataDirLock> {
  const real = await realpath(dataDir);
  return process.platform === 'linux' ? abstractSocketLock(real, dataDir, holder) : lockFile(real, dataDir);
}

function abstractSocketLock(real: string, dataDir: string, holder: LockHolder): Promise<DataDirLock> {
  // Abstract names are limited to 107 bytes: a digest of the path, not the path.
  const name = `\0keyplane-data-dir-${createHash('sha256').update(real).digest('hex').slice(0, 40)}`;
  return new Promise((resolve, reject) => {
    // Whoever knocks is told who holds the directory.
    const server: Server = createServer((socket) => socket.end(holder));
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') return reject(error);
      void askHolder(name).then((who) => reject(new DataDirLockedError(dataDir, who)));
    });
    server.listen({ path: name, exclusive: true }, () => {
      server.unref(); // the lock never keeps the process alive by itself
      resolve({ release: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}

function askHolder(name: string): Promise<LockHolder> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect({ path: name });
    const done = () => {
      socket.destroy();
      resolve(answer === 'cli' ? 'cli' : 'server');
    };
    socket.setTimeout(1_000, done);
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.once('end', done);
    socket.once('error', done);
  });
}

/** Elsewhere than Linux: a lock file kept fresh, stale 10 s after its holder died. */
async function lockFile(real: string, dataDir: string): Promise<DataDirLock> {
  try {
    const release = await lockfile.lock(real, {
      lockfilePath: path.join(real, 'keyplane.lock'),
      stale: 10_000,
      update: 5_000,
      realpath: false,
    });
    return { release: () => release() };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') throw new DataDirLockedError(dataDir, 'server');
    throw error;
  }
}
