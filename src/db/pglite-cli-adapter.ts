// A PGlite driver adapter fit for the Prisma CLI (migrate dev / diff / deploy). The stock
// pglite-prisma-adapter works for queries but has four traps under the CLI (../NOTES.md):
//  1. the shadow database gets whole scripts through parameterless executeRaw, which the stock
//     adapter sends with the extended protocol ("cannot insert multiple commands"): use exec();
//  2. executeScript does not await exec(), so a broken migration is reported as applied;
//  3. dispose() leaves PGlite open and the CLI never exits: close it;
//  4. the CLI calls adapter() twice per command, and two PGlite instances on one directory
//     corrupt it: one instance per directory per process (memoised below).
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type {
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
  SqlQuery,
} from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';

const instances = new Map<string, PGlite>();

function pgliteFor(dataDir: string): PGlite {
  mkdirSync(dataDir, { recursive: true });
  let db = instances.get(dataDir);
  if (!db || db.closed) {
    db = new PGlite({ dataDir });
    instances.set(dataDir, db);
  }
  return db;
}

function fixAdapter(adapter: SqlDriverAdapter, client: PGlite): SqlDriverAdapter {
  const executeRaw = adapter.executeRaw.bind(adapter);
  return Object.assign(Object.create(adapter) as SqlDriverAdapter, {
    async executeRaw(query: SqlQuery) {
      if (query.args.length > 0) return executeRaw(query);
      await client.exec(query.sql).catch((error: unknown) => rethrowAsDriverError(adapter, error));
      return 0;
    },
    async executeScript(script: string) {
      await client.exec(script).catch((error: unknown) => rethrowAsDriverError(adapter, error));
    },
    async dispose() {
      if (!client.closed) await client.close();
      for (const [dir, db] of instances) if (db === client) instances.delete(dir);
    },
  });
}

function rethrowAsDriverError(adapter: SqlDriverAdapter, error: unknown): never {
  // The stock adapter's onError turns PGlite errors into DriverAdapterErrors the CLI can print.
  (adapter as unknown as { onError(e: unknown): never }).onError(error);
  throw error;
}

export function pgliteMigrationAdapter(dataDir: string): SqlMigrationAwareDriverAdapterFactory {
  // Opened lazily: a command that never connects (migrate diff) must not hold the directory open.
  return {
    provider: 'postgres',
    adapterName: 'pglite-prisma-adapter',
    async connect() {
      const client = pgliteFor(dataDir);
      return fixAdapter(await new PrismaPGlite(client).connect(), client);
    },
    async connectToShadowDb() {
      // A fresh in-memory database per shadow connection.
      const shadow = new PGlite();
      return fixAdapter(await new PrismaPGlite(shadow).connect(), shadow);
    },
  };
}
