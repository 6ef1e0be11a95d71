// PostgreSQL stopped (fast shutdown) and started again under a running Keyplane process, while
// clients keep calling: during the outage every answer is a quick, coded 503 with Retry-After
// (never a hang, never a 200 carrying INTERNAL_SERVER_ERROR), /healthz says 503, and service
// comes back by itself once PostgreSQL is back. Runs on a PostgreSQL of the test's own.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/outage.js';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { createOwnPostgres, type OwnPostgres, postgresBinDir } from '../helpers/own-postgres.js';
import { freePort, type ServerProcess, spawnServer } from '../helpers/process.js';

interface Answer {
  started: number;
  ended: number;
  status: number;
  codes: unknown[];
  retryAfter: string | null;
  body: string;
}

async function call(url: string, key: string | null, query: string): Promise<Answer> {
  const started = Date.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.text();
  let codes: unknown[] = [];
  try {
    codes = ((JSON.parse(body) as { errors?: { extensions?: { code?: unknown } }[] }).errors ?? []).map((e) => e.extensions?.code);
  } catch {
    codes = ['<not json>'];
  }
  return { started, ended: Date.now(), status: res.status, codes, retryAfter: res.headers.get('retry-after'), body };
}

const READ = '{ apiKeys { id name } }';
const WRITE = 'mutation { generateApiKey(input: { name: "during outage" }) { secret } }';
const isUnavailable = (a: Answer) =>
  a.status === 503 && a.codes.length > 0 && a.codes.every((c) => c === 'SERVICE_UNAVAILABLE') && Number(a.retryAfter) >= 1;
const isOk = (a: Answer) => a.status === 200 && a.codes.length === 0;

describe.runIf(postgresBinDir())('PostgreSQL restarted under load', () => {
  let db: OwnPostgres;
  let server: ServerProcess;
  let dataDir: string;
  beforeAll(async () => {
    db = await createOwnPostgres();
    await db.start();
    dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-outage-'));
    server = await spawnServer({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DATABASE_URL: db.url,
      REDIS_URL: '',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '1000000',
      AUTH_FAILURES_PER_MINUTE: '1000000',
    });
  });
  afterAll(async () => {
    await server?.stop();
    await db?.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers a quick coded 503 while it is down and recovers by itself', async () => {
    const admin = server.bootstrapKey!;
    expect(isOk(await call(server.url, admin, READ))).toBe(true);
    // A key that has never authenticated: during the outage its check needs the database.
    const made = await call(server.url, admin, 'mutation { generateApiKey(input: { name: "unused" }) { secret } }');
    const fresh = (JSON.parse(made.body) as { data: { generateApiKey: { secret: string } } }).data.generateApiKey.secret;

    const answers: Answer[] = [];
    let running = true;
    const workers = Array.from({ length: 4 }, async () => {
      while (running) {
        answers.push(await call(server.url, admin, READ));
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    await new Promise((r) => setTimeout(r, 800));

    const stopAsked = Date.now();
    await db.stop();
    const down = Date.now();
    await new Promise((r) => setTimeout(r, 1_000));
    const probes = {
      fresh: await call(server.url, fresh, READ),
      write: await call(server.url, admin, WRITE),
      health: await fetch(new URL('/healthz', server.url)).then(async (r) => ({ status: r.status, body: await r.text() })),
    };
    await new Promise((r) => setTimeout(r, 500));

    const startAsked = Date.now();
    await db.start();
    const up = Date.now();
    let recovered = 0;
    for (let i = 0; i < 200 && !recovered; i++) {
      if (isOk(await call(server.url, fresh, READ))) recovered = Date.now();
      else await new Promise((r) => setTimeout(r, 25));
    }
    await new Promise((r) => setTimeout(r, 800));
    running = false;
    await Promise.all(workers);

    const bad = answers.filter((a) => !isOk(a) && !isUnavailable(a));
    expect(bad.map((a) => `${a.status} ${a.body}`)).toEqual([]);
    const slowest = Math.max(...answers.map((a) => a.ended - a.started));
    expect(slowest).toBeLessThan(2_000);
    const duringOutage = answers.filter((a) => a.started >= down && a.ended <= startAsked);
    expect(duringOutage.length).toBeGreaterThan(10);
    expect(duringOutage.every(isUnavailable)).toBe(true);
    const first503 = answers.find((a) => a.ended >= stopAsked && isUnavailable(a));

    expect(isUnavailable(probes.fresh)).toBe(true);
    expect(isUnavailable(probes.write)).toBe(true);
    expect(probes.health.status).toBe(503);

    expect(recovered).toBeGreaterThan(0);
    const afterRecovery = answers.filter((a) => a.started >= recovered);
    expect(afterRecovery.length).toBeGreaterThan(5);
    expect(afterRecovery.every(isOk)).toBe(true);
    expect((await fetch(new URL('/healthz', server.url))).status).toBe(200);
    expect(server.child.exitCode).toBeNull();
    expect(server.output()).not.toMatch(/Unhandled|uncaught/i);
    // Every 503 is one masked error for yoga: logged once per 5 s with a count, not once each.
    const yogaLines = server
      .output()
      .split('\n')
      .filter((line) => line.includes('"source":"yoga"'));
    expect(yogaLines.length, yogaLines.join('\n')).toBeLessThanOrEqual(3);

    const outageMs = duringOutage.map((a) => a.ended - a.started).sort((x, y) => x - y);
    console.log(
      `outage: ${answers.length} answers; first 503 ${first503 ? first503.ended - stopAsked : '-'} ms after the stop was asked ` +
        `(postgres down after ${down - stopAsked} ms); 503 answers p50 ${outageMs[Math.floor(outageMs.length / 2)]} ms, ` +
        `max ${outageMs.at(-1)} ms; slowest answer overall ${slowest} ms; postgres accepting ${up - startAsked} ms after start, ` +
        `first success ${recovered - up} ms after that`,
    );
  }, 60_000);
});

describe('what counts as the database being unavailable', () => {
  it('Prisma on a closed port, pg pool timeouts and ended sessions do; other failures do not', async () => {
    const port = await freePort(); // nothing listens there
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: `postgres://postgres@127.0.0.1:${port}/x` }) });
    try {
      const caught = await Promise.all([
        prisma.user.findFirst().catch((e: unknown) => e),
        prisma.$queryRaw`SELECT 1`.catch((e: unknown) => e),
        prisma.$transaction(async (tx) => tx.user.count()).catch((e: unknown) => e),
      ]);
      for (const error of caught) expect(isDatabaseUnavailable(error)).toBe(true);
    } finally {
      await prisma.$disconnect();
    }
    expect(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(
      true,
    );
    expect(
      isDatabaseUnavailable(
        Object.assign(new Error('x'), { code: 'P2010', meta: { driverAdapterError: { cause: { originalCode: '57P01' } } } }),
      ),
    ).toBe(true);

    expect(isDatabaseUnavailable(Object.assign(new Error('Unique constraint failed'), { code: 'P2002' }))).toBe(false);
    // An SMTP server or a webhook endpoint refusing is no database outage.
    expect(
      isDatabaseUnavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), { code: 'ECONNREFUSED', syscall: 'connect' })),
    ).toBe(false);
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });
});
