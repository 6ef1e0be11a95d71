// Once per run: a migrated PGlite directory that test servers copy instead of running initdb
// (5–7 s each) for every file. The process tests still start from truly empty directories.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { TestProject } from 'vitest/node';
import { pgliteConnection } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string | null;
  }
}

export default async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) {
    project.provide('pgliteTemplate', null);
    return;
  }
  const root = await mkdtemp(path.join(tmpdir(), 'keyplane-template-'));
  const dir = path.join(root, 'pglite');
  const db = await PGlite.create({ dataDir: dir });
  await migrate(pgliteConnection(db), { advisoryLock: false });
  await db.close();
  project.provide('pgliteTemplate', dir);
  return () => rm(root, { recursive: true, force: true });
}
