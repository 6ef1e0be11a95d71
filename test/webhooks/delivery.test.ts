// Webhook delivery (SPEC §5 "Webhooks", issue 19 item 2): a real receiver on 127.0.0.1 gets each
// event signed per Standard Webhooks (checked with the `standardwebhooks` verifier and with an
// HMAC computed here), retried on the (scaled) Svix schedule with one webhook-id, FAILED after the
// last attempt, signed twice during a rotation window; an endpoint failing for
// WEBHOOK_DISABLE_AFTER_HOURS is disabled, audited and its admins notified; a dead endpoint never
// delays a mutation. Endpoints are written to the database directly (the GraphQL API is another
// part): their secrets sealed by the server's own box, as createWebhookEndpoint seals them.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'graphql';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';
import { MAX_WEBHOOK_ATTEMPTS } from '../../src/webhooks/dispatcher.js';
import type { WebhookEventType } from '../../src/webhooks/event-types.js';
import { insertEvents, newEventId, webhookBody } from '../../src/webhooks/outbox.js';
import { gql, metric } from '../helpers/client.js';
import { addTeam, addUser, principalOf, webhookEventsRendered } from '../helpers/fixtures.js';
import { makeTestEnv, type ScopedTestServer, useTestServer } from '../helpers/server.js';

// ---------------------------------------------------------------------------------------------
// The receiver: one HTTP server on 127.0.0.1, a path per endpoint, a reply per path and attempt.

interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
}
type Reply = (attempt: number) => number | 'hang';

class Receiver {
  private readonly server: Server;
  private readonly replies = new Map<string, Reply>();
  private readonly received = new Map<string, Received[]>();
  /** requests answered or not: how many are open now */
  open = 0;
  /** TCP connections accepted, whatever came over them */
  connections = 0;

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', () => {
      this.connections += 1;
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** Cuts the requests left hanging. */
  dropConnections(): void {
    this.server.closeAllConnections();
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** A new path and its URL; `reply` answers each attempt (1-based). */
  endpoint(reply: Reply = () => 200): { url: string; requests: Received[] } {
    const path = `/${randomUUID()}`;
    const requests: Received[] = [];
    this.replies.set(path, reply);
    this.received.set(path, requests);
    return { url: `http://127.0.0.1:${this.port}${path}`, requests };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://receiver').pathname;
      const requests = this.received.get(path);
      const reply = this.replies.get(path);
      if (!requests || !reply) {
        res.writeHead(404).end();
        return;
      }
      requests.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const status = reply(requests.length);
      if (status === 'hang') {
        this.open += 1;
        res.on('close', () => {
          this.open -= 1;
        });
        return;
      }
      res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
    });
  }
}

// ---------------------------------------------------------------------------------------------

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

/** Standard Webhooks' v1 signature computed here, independently of the package. */
function handSignature(secret: string, id: string, timestamp: string, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** Checks a request with the package's verifier and by hand; returns the parsed body. */
function verified(request: Received, secret: string): { type: string; timestamp: string; data: Record<string, unknown> } {
  const payload = new Webhook(secret).verify(request.body, request.headers) as {
    type: string;
    timestamp: string;
    data: Record<string, unknown>;
  };
  const { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature } = request.headers;
  expect(signature!.split(' ')).toContain(handSignature(secret, id!, timestamp!, request.body));
  expect(() => new Webhook(secret).verify(`${request.body} `, request.headers)).toThrow(/No matching signature/);
  return payload;
}

async function until<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface EndpointSetup {
  teamId: string;
  url: string;
  eventTypes?: string[];
  secret?: string;
  enabled?: boolean;
  /** seals with this box instead of the server's (a secret sealed under another ENCRYPTION_KEY) */
  box?: SecretBox;
}

/** An endpoint as createWebhookEndpoint writes it: the secret sealed, bound to the endpoint's id. */
async function addEndpoint(server: KeyplaneServer, createdById: string, setup: EndpointSetup) {
  const id = randomUUID();
  const secret = setup.secret ?? newSecret();
  await server.services.prisma.webhookEndpoint.create({
    data: {
      id,
      teamId: setup.teamId,
      url: setup.url,
      eventTypes: setup.eventTypes ?? ['api_key.created'],
      enabled: setup.enabled ?? true,
      secretSealed: (setup.box ?? server.services.secretBox).seal(secret, id),
      createdById,
    },
  });
  return { id, secret };
}

/** An event for one endpoint, as sendTestWebhook enqueues it (no nudge: the poll finds it). */
async function enqueueFor(server: KeyplaneServer, teamId: string, endpointId: string, type: WebhookEventType = 'webhook.test') {
  const id = newEventId();
  const at = new Date();
  await insertEvents(server.services.prisma, [{ id, teamId, type, body: webhookBody(type, at, { endpointId }) }], at, endpointId);
  return id;
}

const deliveriesOf = (server: KeyplaneServer, endpointId: string) =>
  server.services.prisma.webhookDelivery.findMany({ where: { endpointId }, orderBy: { createdAt: 'asc' } });

const Generate = parse('mutation WhGenerate($input: GenerateApiKeyInput!) { generateApiKey(input: $input) { secret apiKey { id hint } } }');
const Revoke = parse('mutation WhRevoke($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }');
const Notifications = parse('query WhNotifications { notifications(first: 10) { edges { node { id kind message apiKey { id } } } } }');

type GenerateResult = { generateApiKey: { secret: string; apiKey: { id: string; hint: string } } };

// A schedule of milliseconds: 5 s × 0.0001/5 … → 0.1 ms, 6 ms, 36 ms, 144 ms, 360 ms, 720 ms, 720 ms.
const RETRY_SECONDS = '0.0001';

const receiver = new Receiver();
beforeAll(() => receiver.listen());
afterAll(() => receiver.close());

describe('webhook delivery', () => {
  const server = useTestServer({
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    WEBHOOK_RETRY_SECONDS: RETRY_SECONDS,
    RATE_LIMIT_PER_MINUTE: '100000',
  });

  /** A team of its own per test: its events reach its endpoints only. */
  async function team() {
    const created = await addTeam(server);
    return { teamId: created.teamId, adminId: created.userId, adminKey: created.apiKey };
  }

  it('posts an api_key.created event from generateApiKey once, signed per Standard Webhooks, with no secret in it', async () => {
    const { teamId, adminId, adminKey } = await team();
    const target = receiver.endpoint();
    const endpoint = await addEndpoint(server, adminId, { teamId, url: target.url, eventTypes: ['api_key.created'] });

    const generated = await gql<GenerateResult, { input: { name: string } }>(
      server.url,
      Generate,
      { input: { name: 'CI deploy' } },
      { key: adminKey },
    );
    const { secret: apiKeySecret, apiKey } = generated.data!.generateApiKey;

    await until(
      () => target.requests.length,
      (n) => n >= 1,
    );
    await sleep(300); // a duplicate would show up by now
    expect(target.requests).toHaveLength(1);
    const [request] = target.requests;
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['webhook-id']).toMatch(/^msg_/);
    expect(Math.abs(Number(request!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(10);
    expect(request!.headers['webhook-signature']!.split(' ')).toHaveLength(1);

    const payload = verified(request!, endpoint.secret);
    const admin = await server.services.prisma.user.findUniqueOrThrow({ where: { id: adminId } });
    expect(payload).toEqual({
      type: 'api_key.created',
      timestamp: expect.any(String),
      data: {
        apiKey: {
          id: apiKey.id,
          kind: 'PERSONAL',
          name: 'CI deploy',
          hint: expect.stringContaining(apiKey.hint),
          status: 'ENABLED',
          expiresAt: null,
          owner: { id: adminId, name: admin.name, email: admin.email },
        },
        reason: null,
        actor: { type: 'USER', id: adminId, name: admin.name },
      },
    });
    expect(request!.body).not.toContain(apiKeySecret);
    expect(request!.body).not.toMatch(/kp[cs]?_[0-9A-Za-z]{36}|whsec_/);

    const [delivery] = await deliveriesOf(server, endpoint.id);
    expect(delivery).toMatchObject({ status: 'SUCCEEDED', attempts: 1, responseStatus: 200, nextAttemptAt: null, claimedUntil: null });
    expect(delivery!.eventId).toBe(request!.headers['webhook-id']);
    expect(delivery!.lastAttemptAt).toBeInstanceOf(Date);
  });

  it('retries a 500 with the same webhook-id: 500, 500, 200 is three attempts and SUCCEEDED', async () => {
    const { teamId, adminId } = await team();
    const target = receiver.endpoint((attempt) => (attempt <= 2 ? 500 : 200));
    const endpoint = await addEndpoint(server, adminId, { teamId, url: target.url });
    const succeededBefore = await metric(server.url, 'webhook_deliveries_succeeded');
    const failedBefore = await metric(server.url, 'webhook_delivery_failures');
    const eventId = await enqueueFor(server, teamId, endpoint.id);

    const [delivery] = await until(
      () => deliveriesOf(server, endpoint.id),
      ([d]) => d?.status === 'SUCCEEDED',
    );
    await sleep(300);
    expect(target.requests).toHaveLength(3);
    expect(new Set(target.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([eventId]));
    for (const request of target.requests) verified(request, endpoint.secret);
    expect(delivery).toMatchObject({ attempts: 3, responseStatus: 200, lastError: null, nextAttemptAt: null });
    // Counted (other tests of the file may add to them meanwhile: at least these).
    expect(await metric(server.url, 'webhook_deliveries_succeeded')).toBeGreaterThanOrEqual(succeededBefore + 1);
    expect(await metric(server.url, 'webhook_delivery_failures')).toBeGreaterThanOrEqual(failedBefore + 2);
    // The failures marked the endpoint failing; the success cleared it.
    expect((await server.services.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).failingSince).toBeNull();
  });

  it(`gives up after ${MAX_WEBHOOK_ATTEMPTS} attempts on the schedule: FAILED, with the last status and error`, async () => {
    const { teamId, adminId } = await team();
    const target = receiver.endpoint(() => 500);
    const endpoint = await addEndpoint(server, adminId, { teamId, url: target.url });
    await enqueueFor(server, teamId, endpoint.id);

    const [delivery] = await until(
      () => deliveriesOf(server, endpoint.id),
      ([d]) => d?.status === 'FAILED',
    );
    await sleep(1_500); // past the last delay: nothing more comes
    expect(target.requests).toHaveLength(8);
    expect(delivery).toMatchObject({ attempts: 8, responseStatus: 500, lastError: 'HTTP 500', nextAttemptAt: null, claimedUntil: null });
    // The gaps grow as the schedule does (0.1 ms, 6 ms, 36 ms, 144 ms, 360 ms, 720 ms, 720 ms; seen
    // at the receiver, less a request's own latency).
    const gaps = target.requests.slice(1).map((r, i) => r.at - target.requests[i]!.at);
    expect(gaps[3]!).toBeGreaterThanOrEqual(100);
    expect(gaps[5]!).toBeGreaterThanOrEqual(600);
    expect(gaps[6]!).toBeGreaterThanOrEqual(600);
    const endpointRow = await server.services.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } });
    expect(endpointRow.failingSince).toBeInstanceOf(Date);
    expect(endpointRow.enabled).toBe(true); // 120 h are far away
  });

  it('signs with both secrets during a rotation window (each verifies alone), and with the new one after it', async () => {
    const { teamId, adminId } = await team();
    const target = receiver.endpoint();
    const endpoint = await addEndpoint(server, adminId, { teamId, url: target.url });
    // As rotateWebhookSecret leaves it: a new secret, the old one signing for a while.
    const oldSecret = endpoint.secret;
    const newSecretValue = newSecret();
    const box = server.services.secretBox;
    await server.services.prisma.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: {
        secretSealed: box.seal(newSecretValue, endpoint.id),
        previousSecretSealed: box.seal(oldSecret, endpoint.id),
        previousSecretExpiresAt: new Date(Date.now() + 3_600_000),
      },
    });
    await enqueueFor(server, teamId, endpoint.id);
    await until(
      () => target.requests.length,
      (n) => n >= 1,
    );
    const during = target.requests[0]!;
    const signatures = during.headers['webhook-signature']!.split(' ');
    expect(signatures).toHaveLength(2);
    const [first, second] = signatures;
    new Webhook(newSecretValue).verify(during.body, { ...during.headers, 'webhook-signature': first! });
    new Webhook(oldSecret).verify(during.body, { ...during.headers, 'webhook-signature': second! });
    expect(() => new Webhook(newSecretValue).verify(during.body, { ...during.headers, 'webhook-signature': second! })).toThrow();
    verified(during, newSecretValue);
    verified(during, oldSecret);

    await server.services.prisma.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { previousSecretExpiresAt: new Date(Date.now() - 1_000) },
    });
    await enqueueFor(server, teamId, endpoint.id);
    await until(
      () => target.requests.length,
      (n) => n >= 2,
    );
    const after = target.requests[1]!;
    expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    verified(after, newSecretValue);
    expect(() => new Webhook(oldSecret).verify(after.body, after.headers)).toThrow(/No matching signature/);
  });

  it('fails an attempt whose secret does not open (another ENCRYPTION_KEY), without posting, and retries it', async () => {
    const { teamId, adminId } = await team();
    const target = receiver.endpoint();
    const elsewhere = new SecretBox(randomBytes(32));
    const endpoint = await addEndpoint(server, adminId, { teamId, url: target.url, box: elsewhere });
    await enqueueFor(server, teamId, endpoint.id);

    const [delivery] = await until(
      () => deliveriesOf(server, endpoint.id),
      ([d]) => (d?.attempts ?? 0) >= 2,
    );
    expect(delivery!.lastError).toMatch(/another encryption key/);
    expect(delivery!.responseStatus).toBeNull();
    expect(target.requests).toHaveLength(0);
    // Our key, not the endpoint, is at fault: the endpoint is not marked failing.
    expect((await server.services.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).failingSince).toBeNull();
    await server.services.prisma.webhookEndpoint.delete({ where: { id: endpoint.id } });
  });

  it("does not post a disabled endpoint's events (FAILED 'endpoint disabled'), but posts a test an admin sends it", async () => {
    const { teamId, adminId } = await team();
    const target = receiver.endpoint();
    const endpoint = await addEndpoint(server, adminId, { teamId, url: target.url, enabled: false });
    await enqueueFor(server, teamId, endpoint.id, 'api_key.created');
    const [skipped] = await until(
      () => deliveriesOf(server, endpoint.id),
      ([d]) => d?.status !== 'PENDING',
    );
    expect(skipped).toMatchObject({ status: 'FAILED', lastError: 'endpoint disabled', attempts: 0, lastAttemptAt: null });
    expect(target.requests).toHaveLength(0);

    const testId = await enqueueFor(server, teamId, endpoint.id, 'webhook.test');
    await until(
      () => target.requests.length,
      (n) => n >= 1,
    );
    expect(target.requests[0]!.headers['webhook-id']).toBe(testId);
    expect(verified(target.requests[0]!, endpoint.secret).type).toBe('webhook.test');
  });

  it('a deleted endpoint takes its deliveries with it', async () => {
    const { teamId, adminId } = await team();
    const target = receiver.endpoint(() => 500);
    const endpoint = await addEndpoint(server, adminId, { teamId, url: target.url });
    await enqueueFor(server, teamId, endpoint.id);
    await until(
      () => target.requests.length,
      (n) => n >= 2,
    );
    await server.services.prisma.webhookEndpoint.delete({ where: { id: endpoint.id } });
    expect(await deliveriesOf(server, endpoint.id)).toHaveLength(0);
    const seen = target.requests.length;
    await sleep(800);
    expect(target.requests.length).toBeLessThanOrEqual(seen + 1); // at most the attempt under way
  });

  it('endpoints that never answer hold at most 10 posts and never delay a revocation', async () => {
    const { teamId, adminId, adminKey } = await team();
    const dead = receiver.endpoint(() => 'hang');
    const endpoint = await addEndpoint(server, adminId, { teamId, url: dead.url, eventTypes: ['api_key.created', 'api_key.revoked'] });
    try {
      for (let i = 0; i < 12; i++) await enqueueFor(server, teamId, endpoint.id);
      // Ten posts hang (the bound); the other two wait for a slot.
      await until(
        () => receiver.open,
        (n) => n >= 10,
      );
      await sleep(300);
      expect(receiver.open).toBe(10);

      const generated = await gql<GenerateResult, { input: { name: string } }>(
        server.url,
        Generate,
        { input: { name: 'doomed' } },
        { key: adminKey },
      );
      const keyId = generated.data!.generateApiKey.apiKey.id;
      const started = performance.now();
      const revoked = await gql<{ revokeApiKeys: { revokedCount: number } }, { ids: string[] }>(
        server.url,
        Revoke,
        { ids: [keyId] },
        { key: adminKey },
      );
      const took = performance.now() - started;
      expect(revoked.data?.revokeApiKeys.revokedCount).toBe(1);
      expect(took).toBeLessThan(2_000); // a dead endpoint's posts run for 15 s each

      // Its event is rendered after commit, and its delivery waits for a slot.
      await webhookEventsRendered(server);
      const events = await server.services.prisma.webhookEvent.findMany({ where: { teamId, type: 'api_key.revoked' } });
      expect(events).toHaveLength(1);
      const rows = await deliveriesOf(server, endpoint.id);
      expect(rows.filter((d) => d.eventId === events[0]!.id)).toMatchObject([{ status: 'PENDING' }]);
      expect(rows.filter((d) => d.claimedUntil !== null && d.claimedUntil > new Date())).toHaveLength(10);
    } finally {
      // Its deliveries go with it; the hanging posts are cut (their outcome matches no row).
      await server.services.prisma.webhookEndpoint.delete({ where: { id: endpoint.id } });
      receiver.dropConnections();
    }
  });
});

describe('an endpoint failing for WEBHOOK_DISABLE_AFTER_HOURS', () => {
  // 0.0003 h ≈ 1.1 s: the 7th attempt (≈ 1.27 s after the first) finds it failing for longer.
  const server = useTestServer({
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    WEBHOOK_RETRY_SECONDS: RETRY_SECONDS,
    WEBHOOK_DISABLE_AFTER_HOURS: '0.0003',
  });

  it('is disabled with a reason, its pending deliveries fail, the change is audited and the admins are notified', async () => {
    const teamId = server.teamId;
    const superAdmin = await principalOf(server, server.adminKey);
    const teamAdmin = await addUser(server, teamId, 'TEAM_ADMIN');
    const member = await addUser(server, teamId, 'MEMBER');
    const gone = await addUser(server, teamId, 'TEAM_ADMIN');
    await server.services.prisma.user.update({ where: { id: gone.user.id }, data: { active: false } });

    const target = receiver.endpoint(() => 500);
    const endpoint = await addEndpoint(server, superAdmin.userId, { teamId, url: `${target.url}?token=not-in-texts` });
    // Waiting for later: one event of a subscribed type, one test.
    const laterId = await enqueueFor(server, teamId, endpoint.id, 'api_key.created');
    const laterTestId = await enqueueFor(server, teamId, endpoint.id, 'webhook.test');
    const later = { nextAttemptAt: new Date(Date.now() + 3_600_000) };
    await server.services.prisma.webhookDelivery.updateMany({ where: { eventId: { in: [laterId, laterTestId] } }, data: later });

    const failingId = await enqueueFor(server, teamId, endpoint.id, 'api_key.created');
    const disabled = await until(
      () => server.services.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } }),
      (e) => !e.enabled,
    );
    expect(disabled.disabledReason).toMatch(
      new RegExp(
        `^disabled after failing since ${disabled.failingSince!.toISOString().replace(/[.]/g, '\\.')} \\(last error: HTTP 500\\)$`,
      ),
    );
    const attempts = target.requests.length;
    // The 7th attempt comes ≥ 1.27 s after the first (the 6th or an earlier one under load).
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThan(MAX_WEBHOOK_ATTEMPTS);

    // The attempt that disabled it records its own outcome right after the disabling commits.
    const deliveries = await until(
      () => deliveriesOf(server, endpoint.id),
      (rows) => rows.find((d) => d.eventId === failingId)?.status !== 'PENDING',
    );
    const byEvent = new Map(deliveries.map((d) => [d.eventId, d]));
    expect(byEvent.get(failingId)).toMatchObject({ status: 'FAILED', lastError: 'HTTP 500', nextAttemptAt: null, attempts });
    expect(byEvent.get(laterId)).toMatchObject({ status: 'FAILED', lastError: 'endpoint disabled', nextAttemptAt: null, attempts: 0 });
    expect(byEvent.get(laterTestId)).toMatchObject({ status: 'PENDING' }); // an admin's test still goes
    await sleep(500);
    expect(target.requests).toHaveLength(attempts);

    const audit = await server.services.prisma.auditEvent.findMany({ where: { teamId, action: 'webhook.updated', targetId: endpoint.id } });
    expect(audit).toMatchObject([{ actorType: 'SYSTEM', actorId: null, targetType: 'webhook' }]);
    expect(audit[0]!.summary).toMatch(/^Disabled webhook http:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+\/… after failing since /);
    expect(audit[0]!.summary).not.toContain('not-in-texts');

    const notified = await server.services.prisma.notification.findMany({ where: { kind: 'WEBHOOK_DISABLED' } });
    expect(notified.map((n) => n.userId).sort()).toEqual([superAdmin.userId, teamAdmin.user.id].sort());
    expect(notified[0]!.message).toContain('HTTP 500');
    expect(notified[0]!.message).not.toContain('not-in-texts');
    void member;

    // The GraphQL Notification type shows it (a notification about no key).
    const listed = await gql<
      { notifications: { edges: { node: { kind: string; message: string; apiKey: null } }[] } },
      Record<string, never>
    >(server.url, Notifications, {}, { key: teamAdmin.key });
    expect(listed.errors).toBeUndefined();
    expect(listed.data!.notifications.edges.map((e) => e.node)).toEqual([
      expect.objectContaining({ kind: 'WEBHOOK_DISABLED', apiKey: null, message: expect.stringContaining('after failing since') }),
    ]);

    // A disabled endpoint gets no new events.
    const generated = await gql<GenerateResult, { input: { name: string } }>(
      server.url,
      Generate,
      { input: { name: 'after disabling' } },
      { key: server.adminKey },
    );
    expect(generated.errors).toBeUndefined();
    expect(await deliveriesOf(server, endpoint.id)).toHaveLength(deliveries.length);
  });
});

describe('two instances on one database', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  let a: KeyplaneServer;
  let b: KeyplaneServer;

  beforeAll(async () => {
    // One DATA_DIR: one encryption key file, as instances sharing a database share ENCRYPTION_KEY.
    testEnv = await makeTestEnv({ WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SECONDS: RETRY_SECONDS });
    a = await startKeyplane(loadConfig(testEnv.env));
    b = await startKeyplane(loadConfig(testEnv.env));
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await testEnv?.cleanup();
  });

  it('deliver 200 events exactly once each between them (SKIP LOCKED claims)', async () => {
    const admin = await principalOf(a, a.bootstrapKey!);
    const target = receiver.endpoint();
    const secret = newSecret();
    const endpointId = randomUUID();
    await a.services.prisma.webhookEndpoint.create({
      data: {
        id: endpointId,
        teamId: admin.teamId,
        url: target.url,
        eventTypes: ['api_key.created'],
        secretSealed: a.services.secretBox.seal(secret, endpointId),
        createdById: admin.userId,
      },
    });
    const at = new Date();
    const events = Array.from({ length: 200 }, () => {
      const id = newEventId();
      return { id, teamId: admin.teamId, type: 'webhook.test' as const, body: webhookBody('webhook.test', at, { n: id }) };
    });
    // Committed at once, no nudge: both instances' polls find them.
    await insertEvents(a.services.prisma, events, at, endpointId);

    await until(
      () => a.services.prisma.webhookDelivery.count({ where: { endpointId, status: 'SUCCEEDED' } }),
      (n) => n === 200,
      30_000,
    );
    await sleep(500);
    const ids = target.requests.map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(200);
    expect(new Set(ids)).toEqual(new Set(events.map((e) => e.id)));
    for (const request of target.requests) new Webhook(secret).verify(request.body, request.headers);
    expect(await a.services.prisma.webhookDelivery.count({ where: { endpointId, attempts: 1 } })).toBe(200);
    expect(a.services.webhooks.succeeded + b.services.webhooks.succeeded).toBe(200);
  });
});

// A host name whose text shows no private address, resolved (by the server's resolver seam, as a
// DNS answer would) to 127.0.0.1: refused only once the name is resolved, at connect time.
const LOOPBACK_NAME = 'hooks.rebinding.example';

describe('with WEBHOOK_ALLOW_PRIVATE_URLS off', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  let server: KeyplaneServer & { teamId: string; adminKey: string };
  const resolved: string[] = [];
  beforeAll(async () => {
    testEnv = await makeTestEnv({ WEBHOOK_RETRY_SECONDS: RETRY_SECONDS });
    const started = await startKeyplane(loadConfig(testEnv.env), {
      resolveHost: async (name) => {
        resolved.push(name);
        return name === LOOPBACK_NAME ? [{ address: '127.0.0.1', family: 4 }] : [];
      },
    });
    server = Object.assign(started, {
      adminKey: started.bootstrapKey!,
      teamId: (await principalOf(started, started.bootstrapKey!)).teamId,
    });
  });
  afterAll(async () => {
    await server?.close();
    await testEnv?.cleanup();
  });

  it('a host name that resolves to loopback is refused at connect time: a failed attempt, no connection made', async () => {
    const admin = await principalOf(server, server.adminKey);
    const connectionsBefore = receiver.connections;
    const endpoint = await addEndpoint(server, admin.userId, {
      teamId: server.teamId,
      url: `https://${LOOPBACK_NAME}:${receiver.port}/in`,
    });
    await enqueueFor(server, server.teamId, endpoint.id);
    const [delivery] = await until(
      () => deliveriesOf(server, endpoint.id),
      ([d]) => (d?.attempts ?? 0) >= 2,
    );
    expect(delivery!.lastError?.startsWith(`refused: ${LOOPBACK_NAME} resolves to a loopback address`), delivery!.lastError!).toBe(true);
    expect(resolved).toContain(LOOPBACK_NAME);
    expect(delivery!.responseStatus).toBeNull();
    expect(receiver.connections).toBe(connectionsBefore);
    // The endpoint's address is at fault: it is marked failing.
    expect((await server.services.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).failingSince).toBeInstanceOf(
      Date,
    );
    await server.services.prisma.webhookEndpoint.delete({ where: { id: endpoint.id } });
  });
});
