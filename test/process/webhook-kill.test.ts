// Issue 19: "the server killed (SIGKILL) between commit and delivery: delivered after restart, once".
// Keyplane runs as a child process; a receiver on 127.0.0.1 answers 200 and checks every request
// with the `standardwebhooks` verifier; each restart uses the same database and DATA_DIR (so the same
// generated encryption key file: the sealed signing secret still opens). Two kills, each at a point
// the test holds still, so that neither depends on winning a race:
// 1. Between two attempts: the endpoint's port has no listener, so the first attempt fails
//    (connection refused) and the next is WEBHOOK_RETRY_SECONDS (3 s) away; kill -9 then. After the
//    restart the receiver listens: the event arrives once, with the event's webhook-id, attempt 2.
// 2. Between the commit and the rendering: the test holds its endpoint row FOR UPDATE, so the
//    renderer (which took the outbox row) waits on the delivery's foreign key; kill -9 while it
//    waits. Its transaction never commits: the outbox row is back, nothing was rendered or posted.
//    After the restart the new instance renders and posts it, once.
// Not covered here: a kill while a request is on the wire (the receiver holding it open). Another
// instance may retry it only once the dead one's 60 s lease runs out, too slow for this file, and
// the lease is not a setting (the email outbox's equivalent is covered by kill-mid-revocation).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { parse } from 'graphql';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql } from '../helpers/client.js';
import { freePort, type ServerProcess, spawnServer } from '../helpers/process.js';
import { makeTestEnv } from '../helpers/server.js';

const CreateEndpoint = parse(
  'mutation WkCreate($input: WebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id } } }',
);
const Generate = parse('mutation WkGenerate($input: GenerateApiKeyInput!) { generateApiKey(input: $input) { secret apiKey { id } } }');
const Revoke = parse('mutation WkRevoke($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }');

type CreateResult = { createWebhookEndpoint: { secret: string; endpoint: { id: string } } };
type GenerateResult = { generateApiKey: { secret: string; apiKey: { id: string } } };
type RevokeResult = { revokeApiKeys: { revokedCount: number } };

/** Anything shaped like a Keyplane key, or a signing secret. */
const SECRET_LIKE = /kp[a-z]{0,3}_[0-9A-Za-z]{36}|whsec_/;
const RETRY_SECONDS = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** what Webhook(secret).verify returned, or why it refused */
  verified: { payload: unknown } | { error: string };
}

/** Answers 200 to a delivery that verifies with its path's secret, 400 otherwise; records both. */
class Receiver {
  private readonly server: Server;
  readonly secrets = new Map<string, string>();
  readonly received = new Map<string, Received[]>();

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        const secret = this.secrets.get(path);
        let verified: Received['verified'];
        try {
          if (!secret) throw new Error(`no endpoint at ${path}`);
          verified = { payload: new Webhook(secret).verify(body, req.headers as Record<string, string>) };
        } catch (error) {
          verified = { error: String(error) };
        }
        this.received.set(path, [...(this.received.get(path) ?? []), { headers: req.headers, body, verified }]);
        res.writeHead('payload' in verified ? 200 : 400).end();
      });
    });
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }

  requests(path: string): Received[] {
    return this.received.get(path) ?? [];
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('kill -9 of the only instance between commit and delivery', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  let db: pg.Client;
  let server: ServerProcess;
  let adminKey: string;
  const receiver = new Receiver();
  let receiverPort: number;
  let generated: GenerateResult['generateApiKey'];
  // Each start names its sessions, so the test can see when a killed one's are all gone.
  const run = randomBytes(3).toString('hex');
  let starts = 0;
  /** the running server's application_name */
  let instance = '';

  /** every server's output, checked for secrets at the end */
  const outputs: (() => string)[] = [];

  const start = async () => {
    instance = `kp-wk-${run}-${++starts}`;
    const url = new URL(testEnv.env.DATABASE_URL!);
    url.searchParams.set('application_name', instance);
    server = await spawnServer({ ...testEnv.env, DATABASE_URL: url.toString() });
    outputs.push(server.output);
  };
  /** Waits until PostgreSQL has no session of the killed server left (nothing more of it can commit). */
  const sessionsGone = (name: string) =>
    until(
      async () =>
        (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name])).rows[0]!.n,
      (n) => n === 0,
      15_000,
    );
  const post = async <R>(document: ReturnType<typeof parse>, variables: object): Promise<R> => {
    const res = await gql<R, object>(server.url, document, variables, { key: adminKey });
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data;
  };
  const createEndpoint = async (path: string, eventTypes: string[]) => {
    const { createWebhookEndpoint: created } = await post<CreateResult>(CreateEndpoint, {
      input: { url: `http://127.0.0.1:${receiverPort}${path}`, eventTypes },
    });
    receiver.secrets.set(path, created.secret);
    return created;
  };
  const deliveryOf = async (endpointId: string) => {
    const { rows } = await db.query<{
      eventId: string;
      status: string;
      attempts: number;
      lastError: string | null;
      responseStatus: number | null;
      claimedUntil: Date | null;
      lastAttemptAt: Date | null;
      nextAttemptAt: Date | null;
    }>(
      `SELECT "eventId", status, attempts, "lastError", "responseStatus", "claimedUntil", "lastAttemptAt", "nextAttemptAt"
         FROM "WebhookDelivery" WHERE "endpointId" = $1`,
      [endpointId],
    );
    expect(rows.length).toBeLessThanOrEqual(1);
    return rows[0];
  };
  const outbox = async () => (await db.query<{ type: string; targetIds: string[] }>('SELECT type, "targetIds" FROM "WebhookOutbox"')).rows;
  const eventBody = async (id: string) =>
    (await db.query<{ body: string }>('SELECT body FROM "WebhookEvent" WHERE id = $1', [id])).rows[0]?.body;
  /** The one request at `path`: verified, with the event's webhook-id and bytes, and no secret in it. */
  const deliveredOnce = async (path: string, eventId: string) => {
    const requests = receiver.requests(path);
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request!.verified).toEqual({ payload: expect.anything() });
    expect(request!.headers['webhook-id']).toBe(eventId);
    expect(request!.body).toBe(await eventBody(eventId));
    expect(request!.body).not.toContain(generated.secret);
    expect(request!.body).not.toMatch(SECRET_LIKE);
    return (request!.verified as { payload: { type: string; data: { apiKey: { id: string } } } }).payload;
  };

  beforeAll(async () => {
    testEnv = await makeTestEnv({
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
      WEBHOOK_RETRY_SECONDS: String(RETRY_SECONDS), // after a failed first attempt, the next comes 3 s later
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '100000',
    });
    db = new pg.Client({ connectionString: testEnv.database.url });
    await db.connect();
    receiverPort = await freePort(); // nothing listens there until case 1 has killed its server
    await start();
    adminKey = server.bootstrapKey!;
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await receiver.close();
    await db?.end();
    await testEnv?.cleanup();
  });

  it('after a failed first attempt: the restarted server delivers the event once, as attempt 2', async () => {
    const endpoint = await createEndpoint('/created', ['api_key.created']);
    ({ generateApiKey: generated } = await post<GenerateResult>(Generate, { input: { name: 'deploy' } }));

    const failed = await until(
      () => deliveryOf(endpoint.endpoint.id),
      (d) => d?.attempts === 1 && d.status === 'PENDING' && d.claimedUntil === null,
      10_000,
    );
    expect(failed!.lastError).toBe('connection refused');
    expect(failed!.nextAttemptAt!.getTime() - failed!.lastAttemptAt!.getTime()).toBe(RETRY_SECONDS * 1000);
    server.child.kill('SIGKILL');
    await sessionsGone(instance);
    // Killed between the attempts (were it late, a second refused attempt would show here).
    expect(await deliveryOf(endpoint.endpoint.id)).toEqual(failed);
    expect(await outbox()).toEqual([]); // rendered before the kill
    expect(receiver.requests('/created')).toEqual([]);

    await receiver.listen(receiverPort);
    await start();
    const delivered = await until(
      () => deliveryOf(endpoint.endpoint.id),
      (d) => d?.status === 'SUCCEEDED',
      20_000,
    );
    await sleep(3_000); // a second copy would show up by now (the dispatcher polls every second)
    expect(delivered).toMatchObject({ attempts: 2, responseStatus: 200, lastError: null, claimedUntil: null, nextAttemptAt: null });
    expect(delivered!.eventId).toBe(failed!.eventId);
    const payload = await deliveredOnce('/created', delivered!.eventId);
    expect(payload).toMatchObject({ type: 'api_key.created', data: { apiKey: { id: generated.apiKey.id } } });
    expect(await outbox()).toEqual([]);
    const { rows } = await db.query('SELECT "failingSince" FROM "WebhookEndpoint" WHERE id = $1', [endpoint.endpoint.id]);
    expect(rows).toEqual([{ failingSince: null }]); // the success cleared the failure
  }, 60_000);

  it('before the event was rendered: the outbox row survives, and the restarted server delivers it once', async () => {
    const endpoint = await createEndpoint('/revoked', ['api_key.revoked']);
    const killed = instance;
    // The renderer's INSERT of the delivery checks its foreign key (FOR KEY SHARE on the endpoint
    // row): while this transaction holds the row FOR UPDATE, rendering waits, uncommitted.
    const locker = new pg.Client({ connectionString: testEnv.database.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM "WebhookEndpoint" WHERE id = $1 FOR UPDATE', [endpoint.endpoint.id]);
      const lockerPid = (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

      const revoked = await post<RevokeResult>(Revoke, { ids: [generated.apiKey.id] });
      expect(revoked.revokeApiKeys.revokedCount).toBe(1); // answered: committed, outbox row included
      await until(
        async () =>
          (
            await db.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE application_name = $1 AND $2 = ANY(pg_blocking_pids(pid)) AND query LIKE '%INSERT INTO "WebhookDelivery"%'`,
              [killed, lockerPid],
            )
          ).rows[0]!.n,
        (n) => n === 1,
        10_000,
      );
      server.child.kill('SIGKILL');
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    // Released, the orphaned render finds no client to commit for, and rolls back.
    await sessionsGone(killed);
    expect(await outbox()).toEqual([{ type: 'api_key.revoked', targetIds: [generated.apiKey.id] }]);
    expect(await deliveryOf(endpoint.endpoint.id)).toBeUndefined();
    expect(receiver.requests('/revoked')).toEqual([]);

    await start();
    const delivered = await until(
      () => deliveryOf(endpoint.endpoint.id),
      (d) => d?.status === 'SUCCEEDED',
      20_000,
    );
    await sleep(2_000); // a second copy would show up by now
    expect(delivered).toMatchObject({ attempts: 1, responseStatus: 200, lastError: null });
    const payload = await deliveredOnce('/revoked', delivered!.eventId);
    expect(payload).toMatchObject({ type: 'api_key.revoked', data: { apiKey: { id: generated.apiKey.id, status: 'REVOKED' } } });
    expect(await outbox()).toEqual([]);
    expect(receiver.requests('/created')).toHaveLength(1); // case 1's event, still once
    // The failures were logged (LOG_LEVEL=warn) without a key or a signing secret.
    const log = outputs.map((output) => output().replace(/^Bootstrap admin key: .*$/m, '')).join('\n');
    expect(log).toContain('webhook delivery failed');
    expect(log).not.toMatch(SECRET_LIKE);
  }, 60_000);
});
