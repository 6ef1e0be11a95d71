#!/usr/bin/env node
// `npx keyplane …`: the compiled CLI (dist/, built by `npm ci`) when it is current; otherwise the
// TypeScript sources through tsx, so that a checkout without a build, or one whose sources were
// edited since, never runs older code than it holds.
import module from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { compiledIsCurrent, ROOT } from './compiled.mjs';

if (compiledIsCurrent('cli/main.js')) {
  process.setSourceMapsEnabled(true); // stack traces in src/*.ts terms, as `npm start`'s --enable-source-maps
  module.enableCompileCache?.(); // as dist/main.js does (absent before Node.js 22.1, whose check then speaks)
  await import(pathToFileURL(path.join(ROOT, 'dist/cli/main.js')).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
