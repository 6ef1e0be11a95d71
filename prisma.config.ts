// Configuration of the Prisma CLI (generate, migrate diff). The server never runs the CLI: it
// applies prisma/migrations itself at start (src/db/migrate.ts). Migrations are plain SQL files;
// check one against the schema with `npm run migrate:check` on a PostgreSQL of your own
// (PRISMA_DEV_DATABASE_URL; the machine's or the embedded one of a running dev server).
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { defineConfig } from 'prisma/config';

// Without an adapter URL the CLI falls back to downloading a native engine (unreachable here):
// the URL must be set, though the adapter below is what the CLI really talks to.
process.env.PRISMA_CLI_DATABASE_URL ??= 'postgresql://keyplane@localhost/keyplane';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  async adapter() {
    const url = process.env.PRISMA_DEV_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    return new PrismaPg({ connectionString: url });
  },
});
