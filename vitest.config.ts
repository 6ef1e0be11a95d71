import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (index.js, what Node loads for yoga) and ESM (index.mjs, what Vite
    // would pick): two copies break `instanceof GraphQLError`, so tests use Node's one.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file starts its own servers on its own database: files run in parallel.
    fileParallelism: true,
    // vitest defaults to cores - 1 (one worker here); the files mostly wait on I/O.
    maxWorkers: 3,
  },
});
