// One process owns a PGlite directory (two instances on one directory corrupt it). The holder
// keeps a lock file fresh; a lock left by a crashed process goes stale after STALE_MS.
import path from 'node:path';
import lockfile from 'proper-lockfile';

const STALE_MS = 10_000;

export class DataDirLockedError extends Error {
  constructor(dataDir: string) {
    super(
      `The data directory ${dataDir} is in use by a running Keyplane server ` +
        `(lock file ${lockPath(dataDir)}). Stop the server first, or use PostgreSQL (DATABASE_URL) ` +
        'to run several processes on one database.',
    );
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

export function lockPath(dataDir: string): string {
  return path.join(dataDir, 'keyplane.lock');
}

/** waitMs > 0 waits for a stale lock to expire (a server restarted right after a crash). */
export async function acquireDataDirLock(dataDir: string, waitMs = 0): Promise<DataDirLock> {
  try {
    const release = await lockfile.lock(dataDir, {
      lockfilePath: lockPath(dataDir),
      stale: STALE_MS,
      update: STALE_MS / 2,
      retries: waitMs > 0 ? { retries: Math.ceil(waitMs / 500), minTimeout: 500, maxTimeout: 500 } : 0,
      realpath: false,
      onCompromised: (error) => {
        // Another process took over the directory: continuing could corrupt it.
        console.error(`Keyplane lost the lock on ${dataDir}: ${error.message}`);
        process.exit(70);
      },
    });
    let released = false;
    return {
      async release() {
        if (released) return;
        released = true;
        await release();
      },
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') throw new DataDirLockedError(dataDir);
    throw error;
  }
}
