// Whether dist/ (the compiled server and CLI, `npm run build`) can stand for src/: it exists and is
// at least as new as every file under src/. Used by `npx keyplane` and by the compiled-start test.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');

function newestUnder(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** `entry`: a file under dist/, e.g. 'cli/main.js'. */
export function compiledIsCurrent(entry) {
  const compiled = path.join(ROOT, 'dist', entry);
  return existsSync(compiled) && statSync(compiled).mtimeMs >= newestUnder(path.join(ROOT, 'src'));
}
