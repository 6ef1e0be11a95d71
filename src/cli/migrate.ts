// `keyplane migrate`: applies the pending migrations and exits, for deploy pipelines that run it
// before starting the new release (with MIGRATE_ON_START=false the servers then only check).
// Same runner and advisory lock as the server's start: a server starting meanwhile waits for it.
import pino from 'pino';
import { loadConfig } from '../config.js';
import { locateDatabase, migrateDatabase } from '../db/database.js';
import { readMigrations } from '../db/migrate.js';
import { createLogger } from '../observability/log.js';

export async function runMigrate(): Promise<number> {
  const config = loadConfig();
  // On the embedded default: the running server's PostgreSQL, or one started (created on the
  // first run) for this command and stopped after it.
  const location = await locateDatabase({ ...config, log: createLogger('warn', pino.destination(2)), role: 'cli' });
  try {
    const applied = await migrateDatabase(location.url);
    const total = (await readMigrations()).length;
    for (const name of applied) process.stdout.write(`applied ${name}\n`);
    process.stdout.write(
      applied.length === 0
        ? `up to date: all ${total} migrations were already applied\n`
        : `${applied.length} migration${applied.length === 1 ? '' : 's'} applied: up to date (${total} in all)\n`,
    );
    return 0;
  } finally {
    await location.release();
  }
}
