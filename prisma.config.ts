// Configuration of the Prisma CLI (generate, migrate dev/diff). The server itself never runs the
// CLI: it applies prisma/migrations with src/db/migrate.ts. Migrations are authored against an
// embedded PGlite directory of their own (PRISMA_DEV_DATA_DIR), never the server's DATA_DIR.
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { pgliteMigrationAdapter } from './src/db/pglite-cli-adapter.js';

// Without an adapter URL the CLI falls back to downloading a native engine: any valid URL does,
// since the adapter below is what it really talks to.
process.env.PRISMA_CLI_DATABASE_URL ??= 'postgresql://pglite@localhost/pglite';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  async adapter() {
    return pgliteMigrationAdapter(process.env.PRISMA_DEV_DATA_DIR ?? path.join('.data', 'prisma-dev'));
  },
});
