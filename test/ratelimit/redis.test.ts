// Several instances on one PostgreSQL database and one Redis share one budget per key; when Redis
// goes down, requests are still answered under the in-memory insurance limits, and counting goes
// back to Redis by itself when it returns. (Redis pass only.)
import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type ServerProcess, spawnServer } from '../helpers/process.js';
import { makeTestEnv, onRedis } from '../helpers/server.js';

const query = JSON.stringify({ query: '{ viewer { keyKind } }' });
const call = (url: string, key: string) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: query }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: null });
  probe.on('error', () => {}); // refused until the server is up
  await probe.connect().catch(() => undefined);
  await probe.ping();
  probe.disconnect();
  return child;
}

describe.runIf(onRedis)('several instances on one Redis', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  const servers: ServerProcess[] = [];
  beforeAll(async () => {
    testEnv = await makeTestEnv({ RATE_LIMIT_PER_MINUTE: '20', LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await testEnv?.cleanup();
  });

  it('three processes admit exactly N requests for one key in one window (3N fired at once)', async () => {
    servers.push(...(await Promise.all([0, 1, 2].map(() => spawnServer(testEnv.env)))));
    const key = servers.map((s) => s.bootstrapKey).find((k) => k !== null)!;
    expect(key).toMatch(/^kp_/);
    expect(servers.filter((s) => s.bootstrapKey === null)).toHaveLength(2); // one team, bootstrapped once
    const statuses = await Promise.all(Array.from({ length: 60 }, (_, i) => call(servers[i % 3]!.url, key)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
  }, 60_000);
});

describe.runIf(onRedis)('Redis going away and coming back', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  let server: ServerProcess | undefined;
  let redis: ChildProcess | undefined;
  beforeAll(async () => {
    const port = await freePort();
    redis = await startRedis(port);
    testEnv = await makeTestEnv({
      RATE_LIMIT_PER_MINUTE: '10',
      LOG_LEVEL: 'info',
      REDIS_URL: `redis://127.0.0.1:${port}`,
      REDIS_KEY_PREFIX: 'outage',
    });
  });
  afterAll(async () => {
    await server?.stop();
    redis?.kill('SIGKILL');
    await testEnv?.cleanup();
  });

  it('serves under the insurance limit while Redis is down, says so once, and recovers', async () => {
    const port = Number(new URL(testEnv.env.REDIS_URL).port);
    server = await spawnServer(testEnv.env);
    const key = server.bootstrapKey!;
    const inspect = new Redis({ port, maxRetriesPerRequest: 1 });
    expect(await call(server.url, key)).toBe(200);
    expect(await inspect.keys('outage:rate:*')).toHaveLength(1);
    inspect.disconnect();

    redis!.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const during: number[] = [];
    for (let i = 0; i < 12; i++) during.push(await call(server.url, key));
    // Answered, never a 5xx: the in-memory insurance limiter counts from zero and stops at 10.
    expect(during.filter((s) => s === 200)).toHaveLength(10);
    expect(during.filter((s) => s === 429)).toHaveLength(2);
    // The log says so once, however many requests fell back.
    expect(server.output().match(/Redis unavailable/g)).toHaveLength(1);

    redis = await startRedis(port);
    const back = new Redis({ port, maxRetriesPerRequest: 1 });
    const deadline = Date.now() + 10_000;
    while (!server.output().includes('Redis is back') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(server.output()).toContain('Redis is back');
    await call(server.url, key);
    expect(await back.keys('outage:rate:*')).toHaveLength(1);
    back.disconnect();
  }, 60_000);
});
