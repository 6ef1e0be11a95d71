// A start that fails after opening the database (here: the port is taken) releases it again.
import { expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startKeyplane } from '../../src/server.js';
import { makeTestEnv, startTestServer } from '../helpers/server.js';

it('a failed start leaves the data directory usable', async () => {
  const running = await startTestServer();
  const env = await makeTestEnv();
  try {
    await expect(startKeyplane(loadConfig({ ...env.env, PORT: String(running.port) }))).rejects.toThrow(/EADDRINUSE/);
    // Not locked, not half-open: the next start on the same directory (or database) works.
    const next = await startKeyplane(loadConfig({ ...env.env }));
    expect(next.port).toBeGreaterThan(0);
    await next.close();
  } finally {
    await running.close();
    await env.cleanup();
  }
});
