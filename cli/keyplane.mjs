#!/usr/bin/env node
// `npx keyplane …`: the compiled CLI (dist/, built by `npm ci`) when it is at least as new as every
// file under src/; otherwise the TypeScript sources through tsx, so that a checkout without a build,
// or one whose sources were edited since, never runs older code than it holds.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname, '..');
const compiled = path.join(root, 'dist/cli/main.js');

function newestUnder(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(full) : statSync(full).mtimeMs);
  }
  return newest;
}

if (existsSync(compiled) && statSync(compiled).mtimeMs >= newestUnder(path.join(root, 'src'))) {
  process.setSourceMapsEnabled(true); // stack traces in src/*.ts terms, as `npm start`'s --enable-source-maps
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
