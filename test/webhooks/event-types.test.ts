// Every webhook event type end to end (SPEC §5 "Webhooks", issue 19): each change made through a
// public interface (GraphQL, /scim/v2, the scanner intake, the expiry job) reaches a real receiver
// on 127.0.0.1, verified there with the `standardwebhooks` package, and its body is checked
// exactly: `{type, timestamp, data}`, data.apiKey {id, kind, name, hint, status, expiresAt,
// owner}, reason, actor. Also: an endpoint gets only the types it subscribes to, another team's
// changes never reach it, a refused (rolled back) change sends nothing, and no body holds a secret.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTeam, addUser, webhookEventsRendered } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

interface Delivered {
  id: string;
  raw: string;
  body: { type: string; timestamp: string; data: any };
}

/** One receiver on 127.0.0.1; each endpoint a path with its own secret, every request verified. */
class Receiver {
  private readonly server: Server = createServer((req, res) => this.handle(req, res));
  private readonly paths = new Map<string, { secret: string; delivered: Delivered[] }>();
  /** requests that failed verification (must stay empty) */
  readonly refused: string[] = [];

  listen = () => new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  close = () => {
    this.server.closeAllConnections();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  };

  /** A new path: its URL, and `bind` once createWebhookEndpoint has shown the secret. */
  path(): { url: string; delivered: Delivered[]; bind(secret: string): void } {
    const path = `/${randomUUID()}`;
    const delivered: Delivered[] = [];
    return {
      url: `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`,
      delivered,
      bind: (secret) => this.paths.set(path, { secret, delivered }),
    };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = this.paths.get(new URL(req.url ?? '/', 'http://receiver').pathname);
      const raw = Buffer.concat(chunks).toString('utf8');
      if (!target) {
        res.writeHead(404).end();
        return;
      }
      try {
        const body = new Webhook(target.secret).verify(raw, req.headers as Record<string, string>) as Delivered['body'];
        target.delivered.push({ id: String(req.headers['webhook-id']), raw, body });
        res.writeHead(204).end();
      } catch (error) {
        this.refused.push(`${(error as Error).message}: ${raw}`);
        res.writeHead(400).end();
      }
    });
  }
}

const receiver = new Receiver();
beforeAll(() => receiver.listen());
afterAll(() => receiver.close());

const GITLAB_TOKEN = 'gitlab-webhook-events-token-0123456789';
const server = useTestServer({
  WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
  WEBHOOK_RETRY_SECONDS: '0.0001',
  EXPIRY_JOB_INTERVAL_SECONDS: '1',
  RATE_LIMIT_PER_MINUTE: '100000',
  GITLAB_REVOCATION_TOKEN: GITLAB_TOKEN,
});

/** GraphQL over HTTP with a key; throws on errors unless `allowErrors`. */
async function gql(key: string, query: string, variables: Record<string, unknown> = {}, allowErrors = false) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
  if (body.errors && !allowErrors) throw new Error(`${query.slice(0, 60)}: ${JSON.stringify(body.errors)}`);
  return body;
}

async function scim(scimKey: string, method: string, path: string, body?: unknown) {
  const res = await fetch(server.url.replace(/\/graphql$/, `/scim/v2${path}`), {
    method,
    headers: { authorization: `Bearer ${scimKey}`, 'content-type': 'application/scim+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const ALL_TYPES = ['api_key.created', 'api_key.rotated', 'api_key.expiring', 'api_key.revoked', 'api_key.exposed', 'member.deprovisioned'];
const CREATE_ENDPOINT = `mutation ($input: WebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id } } }`;
const GENERATE = `mutation ($input: GenerateApiKeyInput!) { generateApiKey(input: $input) { secret apiKey { id name hint expiresAt } } }`;
const REVOKE = `mutation ($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }`;
// Anything shaped like a key of any kind, a webhook secret or an invitation token.
const SECRET_SHAPED = /kp[cs]?_[0-9A-Za-z]{36}|whsec_|kpinv_/;

interface Endpoint {
  id: string;
  delivered: Delivered[];
}

async function createEndpoint(adminKey: string, eventTypes: string[]): Promise<Endpoint> {
  const path = receiver.path();
  const created = await gql(adminKey, CREATE_ENDPOINT, { input: { url: path.url, eventTypes } });
  path.bind(created.data.createWebhookEndpoint.secret);
  return { id: created.data.createWebhookEndpoint.endpoint.id, delivered: path.delivered };
}

/**
 * Waits until every noted event is rendered and every delivery to these endpoints has succeeded,
 * then returns what each endpoint received since `marks` (the lengths before the change).
 */
async function settled(endpoints: Endpoint[], marks: number[]): Promise<Delivered[][]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await webhookEventsRendered(server);
    const pending = await server.services.prisma.webhookDelivery.count({
      where: { endpointId: { in: endpoints.map((e) => e.id) }, status: { not: 'SUCCEEDED' } },
    });
    const delivered = await server.services.prisma.webhookDelivery.count({ where: { endpointId: { in: endpoints.map((e) => e.id) } } });
    const received = endpoints.reduce((n, e) => n + e.delivered.length, 0);
    if (pending === 0 && received >= delivered) break;
    if (Date.now() > deadline) throw new Error(`deliveries not done: ${pending} pending, ${received}/${delivered} received`);
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(receiver.refused).toEqual([]);
  return endpoints.map((e, i) => e.delivered.slice(marks[i]));
}

/** What `change` sent to `endpoints` (each list in delivery order), once all of it has arrived. */
async function sentBy(endpoints: Endpoint[], change: () => Promise<unknown>): Promise<Delivered[][]> {
  await settled(endpoints, []); // whatever earlier steps sent is out of the way
  const marks = endpoints.map((e) => e.delivered.length);
  const from = Date.now();
  await change();
  const sent = await settled(endpoints, marks);
  // Each event is stamped with the time of its change (the clocks are the same machine's).
  for (const event of sent.flat()) expect(Date.parse(event.body.timestamp)).toSatisfy((t: number) => t >= from - 5 && t <= Date.now());
  return sent;
}

const byKey = (events: Delivered[]) =>
  [...events].sort((a, b) => `${a.body.type} ${a.body.data.apiKey?.id}`.localeCompare(`${b.body.type} ${b.body.data.apiKey?.id}`));

/** A timestamp the change could have been made at. */
const recent = () => expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

let team: { teamId: string; adminKey: string; admin: { id: string; name: string; email: string } };
let all: Endpoint;
let revokedOnly: Endpoint;
let member: Awaited<ReturnType<typeof addUser>>;
let scimKey = '';
let scimKeyHint = '';

beforeAll(async () => {
  const made = await addTeam(server, 'ENTERPRISE');
  const admin = await server.services.prisma.user.findUniqueOrThrow({ where: { id: made.userId } });
  team = { teamId: made.teamId, adminKey: made.apiKey, admin: { id: admin.id, name: admin.name, email: admin.email } };
  await gql(team.adminKey, 'mutation { updateApiKeySettings(input: { scimEnabled: true }) { settings { scimEnabled } } }');
  all = await createEndpoint(team.adminKey, ALL_TYPES);
  revokedOnly = await createEndpoint(team.adminKey, ['api_key.revoked']);
  member = await addUser(server, team.teamId);
});

afterAll(async () => {
  // SPEC §5: never a secret in a body, whichever event it is.
  const bodies = [...all.delivered, ...revokedOnly.delivered].map((d) => d.raw);
  expect(bodies.length).toBeGreaterThan(10);
  for (const body of bodies) expect(body).not.toMatch(SECRET_SHAPED);
});

const owner = () => ({ id: member.user.id, name: member.user.name, email: member.user.email });
const memberActor = () => ({ type: 'USER', id: member.user.id, name: member.user.name });
const adminActor = () => ({ type: 'USER', id: team.admin.id, name: team.admin.name });

describe('api_key.created', () => {
  it('generateApiKey: a PERSONAL key of the caller, by the caller, ENABLED, the hint and never the key', async () => {
    let generated: any;
    const [events, revoked] = await sentBy([all, revokedOnly], async () => {
      generated = (await gql(member.key, GENERATE, { input: { name: 'deploy bot' } })).data.generateApiKey;
    });
    expect(revoked).toEqual([]);
    expect(events).toHaveLength(1);
    expect(events[0]!.body).toEqual({
      type: 'api_key.created',
      timestamp: recent(),
      data: {
        apiKey: {
          id: generated.apiKey.id,
          kind: 'PERSONAL',
          name: 'deploy bot',
          hint: `kp_…${generated.secret.slice(-4)}`,
          status: 'ENABLED',
          expiresAt: null,
          owner: owner(),
        },
        reason: null,
        actor: memberActor(),
      },
    });
    expect(events[0]!.raw).not.toContain(generated.secret);
    expect(events[0]!.id).toMatch(/^msg_/);
  });

  it('shareCollection: a COLLECTION_ACCESS key, owned and created by the sharer', async () => {
    const collection = (await gql(member.key, 'mutation { createCollection(input: { name: "Shared API" }) { id } }')).data.createCollection;
    let shared: any;
    const [events] = await sentBy([all], async () => {
      shared = (
        await gql(member.key, 'mutation ($id: ID!) { shareCollection(collectionId: $id) { secret accessKey { id hint } } }', {
          id: collection.id,
        })
      ).data.shareCollection;
    });
    expect(events!.map((e) => e.body)).toEqual([
      {
        type: 'api_key.created',
        timestamp: recent(),
        data: {
          apiKey: {
            id: shared.accessKey.id,
            kind: 'COLLECTION_ACCESS',
            name: 'Shared API', // an access key is named after its collection
            hint: `kpc_…${shared.secret.slice(-4)}`,
            status: 'ENABLED',
            expiresAt: null,
            owner: owner(),
          },
          reason: null,
          actor: memberActor(),
        },
      },
    ]);
  });

  it('generateScimApiKey: a SCIM key, owned and created by the admin', async () => {
    let generated: any;
    const [events] = await sentBy([all], async () => {
      generated = (await gql(team.adminKey, 'mutation { generateScimApiKey(name: "Okta") { secret scimApiKey { id name hint } } }')).data
        .generateScimApiKey;
    });
    scimKey = generated.secret;
    scimKeyHint = `kps_…${generated.secret.slice(-4)}`;
    expect(events!.map((e) => e.body)).toEqual([
      {
        type: 'api_key.created',
        timestamp: recent(),
        data: {
          apiKey: {
            id: generated.scimApiKey.id,
            kind: 'SCIM',
            name: 'Okta',
            hint: scimKeyHint,
            status: 'ENABLED',
            expiresAt: null,
            owner: team.admin,
          },
          reason: null,
          actor: adminActor(),
        },
      },
    ]);
  });
});

describe('api_key.created by an invitation', () => {
  it("acceptInvitation: the new member's first key, created by that member (the invitation token is in no body)", async () => {
    const email = `invited-${Date.now()}@example.com`;
    const invitation = (
      await gql(team.adminKey, 'mutation ($email: String!) { inviteTeamMember(email: $email, name: "Invited Ivy") { token } }', { email })
    ).data.inviteTeamMember;
    let accepted: any;
    const [events] = await sentBy([all], async () => {
      accepted = (
        await gql('', 'mutation ($token: String!) { acceptInvitation(token: $token, keyName: "laptop") { secret apiKey { id } } }', {
          token: invitation.token,
        })
      ).data.acceptInvitation;
    });
    const ivy = await server.services.prisma.user.findFirstOrThrow({ where: { teamId: team.teamId, email } });
    expect(events!.map((e) => e.body)).toEqual([
      {
        type: 'api_key.created',
        timestamp: recent(),
        data: {
          apiKey: {
            id: accepted.apiKey.id,
            kind: 'PERSONAL',
            name: 'laptop',
            hint: `kp_…${accepted.secret.slice(-4)}`,
            status: 'ENABLED',
            expiresAt: null,
            owner: { id: ivy.id, name: 'Invited Ivy', email },
          },
          reason: null,
          actor: { type: 'USER', id: ivy.id, name: 'Invited Ivy' },
        },
      },
    ]);
    expect(events![0]!.raw).not.toContain(invitation.token);
  });
});

describe('api_key.rotated and api_key.revoked', () => {
  it('regenerateApiKey: api_key.rotated, the new hint', async () => {
    const key = (await gql(member.key, GENERATE, { input: { name: 'to rotate' } })).data.generateApiKey;
    let rotated: any;
    const [events, revoked] = await sentBy([all, revokedOnly], async () => {
      rotated = (await gql(member.key, 'mutation ($id: ID!) { regenerateApiKey(id: $id) { secret apiKey { id } } }', { id: key.apiKey.id }))
        .data.regenerateApiKey;
    });
    expect(revoked).toEqual([]);
    expect(events!.map((e) => e.body)).toEqual([
      {
        type: 'api_key.rotated',
        timestamp: recent(),
        data: {
          apiKey: {
            id: key.apiKey.id,
            kind: 'PERSONAL',
            name: 'to rotate',
            hint: `kp_…${rotated.secret.slice(-4)}`,
            status: 'ENABLED',
            expiresAt: null,
            owner: owner(),
          },
          reason: null,
          actor: memberActor(),
        },
      },
    ]);
  });

  it('revokeApiKeys of 3 keys: one event per key (REVOKED_BY_ADMIN), each with its own webhook-id, to both subscribers', async () => {
    const keys: any[] = [];
    for (const name of ['bulk 1', 'bulk 2', 'bulk 3'])
      keys.push((await gql(member.key, GENERATE, { input: { name } })).data.generateApiKey);
    const [events, revoked] = await sentBy([all, revokedOnly], () =>
      gql(team.adminKey, REVOKE, { ids: keys.map((k) => k.apiKey.id) }).then((r) => expect(r.data.revokeApiKeys.revokedCount).toBe(3)),
    );
    const expected = keys.map((k) => ({
      type: 'api_key.revoked',
      timestamp: recent(),
      data: {
        apiKey: {
          id: k.apiKey.id,
          kind: 'PERSONAL',
          name: k.apiKey.name,
          hint: `kp_…${k.secret.slice(-4)}`,
          status: 'REVOKED',
          expiresAt: null,
          owner: owner(),
        },
        reason: 'REVOKED_BY_ADMIN',
        actor: adminActor(),
      },
    }));
    const sorted = [...expected].sort((a, b) => a.data.apiKey.id.localeCompare(b.data.apiKey.id));
    expect(byKey(events!).map((e) => e.body)).toEqual(sorted);
    expect(byKey(revoked!).map((e) => e.body)).toEqual(sorted);
    expect(new Set(events!.map((e) => e.id)).size).toBe(3);
    // The same event to two endpoints: the same webhook-id and the same bytes.
    expect(byKey(revoked!).map((e) => [e.id, e.raw])).toEqual(byKey(events!).map((e) => [e.id, e.raw]));
  });

  it('revokeApiKeys naming a key of another team is refused as a whole and sends nothing', async () => {
    const other = await addTeam(server, 'ENTERPRISE');
    const mine = (await gql(member.key, GENERATE, { input: { name: 'stays' } })).data.generateApiKey;
    const [events, revoked] = await sentBy([all, revokedOnly], async () => {
      const res = await gql(team.adminKey, REVOKE, { ids: [mine.apiKey.id, await otherKeyId(other.teamId)] }, true);
      expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });
    expect(events).toEqual([]);
    expect(revoked).toEqual([]);
    expect((await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: mine.apiKey.id } })).status).toBe('ENABLED');
  });

  it('deleteApiKey by its owner: REVOKED_BY_OWNER', async () => {
    const key = (await gql(member.key, GENERATE, { input: { name: 'mine to delete' } })).data.generateApiKey;
    const [events] = await sentBy([all], () =>
      gql(member.key, 'mutation ($id: ID!) { deleteApiKey(id: $id) { id } }', { id: key.apiKey.id }),
    );
    expect(
      events!.map((e) => [e.body.type, e.body.data.apiKey.id, e.body.data.apiKey.status, e.body.data.reason, e.body.data.actor]),
    ).toEqual([['api_key.revoked', key.apiKey.id, 'REVOKED', 'REVOKED_BY_OWNER', memberActor()]]);
  });
});

async function otherKeyId(teamId: string): Promise<string> {
  return (await server.services.prisma.apiKey.findFirstOrThrow({ where: { teamId } })).id;
}

describe('api_key.exposed', () => {
  it('reportExposedApiKeys with auto revoke: api_key.exposed (EXPOSED) and api_key.revoked (EXPOSED), by the reporter', async () => {
    await gql(
      team.adminKey,
      'mutation { updateApiKeySettings(input: { autoRevokeExposedKeys: true, exposedKeysAction: IGNORE }) { warning } }',
    );
    const leaked = (await gql(member.key, GENERATE, { input: { name: 'leaked' } })).data.generateApiKey;
    const [events, revoked] = await sentBy([all, revokedOnly], () =>
      gql(team.adminKey, 'mutation ($t: String!) { reportExposedApiKeys(text: $t, location: "https://paste.example/1") { id } }', {
        t: `oops ${leaked.secret}`,
      }),
    );
    const apiKey = (status: string) => ({
      id: leaked.apiKey.id,
      kind: 'PERSONAL',
      name: 'leaked',
      hint: `kp_…${leaked.secret.slice(-4)}`,
      status,
      expiresAt: null,
      owner: owner(),
    });
    // Bodies are rendered after commit from the key as it then is (src/webhooks/outbox.ts): the
    // exposure and its auto revoke commit together, so api_key.exposed already reads REVOKED.
    expect(byKey(events!).map((e) => e.body)).toEqual([
      { type: 'api_key.exposed', timestamp: recent(), data: { apiKey: apiKey('REVOKED'), reason: 'EXPOSED', actor: adminActor() } },
      { type: 'api_key.revoked', timestamp: recent(), data: { apiKey: apiKey('REVOKED'), reason: 'EXPOSED', actor: adminActor() } },
    ]);
    expect(revoked!.map((e) => e.body.type)).toEqual(['api_key.revoked']);
    await gql(team.adminKey, 'mutation { updateApiKeySettings(input: { autoRevokeExposedKeys: false }) { warning } }');
  });
});

describe('api_key.expiring', () => {
  it('a key expiring within the 7-day threshold: one api_key.expiring from the reminder job (SYSTEM)', async () => {
    let key: any;
    const deadline = Date.now() + 15_000;
    const [events] = await sentBy([all], async () => {
      key = (await gql(member.key, GENERATE, { input: { name: 'short lived', expiresInDays: 3 } })).data.generateApiKey;
      // The job runs every second: wait for its reminder before settling.
      while (!(await server.services.prisma.expiryReminder.count({ where: { keyId: key.apiKey.id, notified: true } }))) {
        if (Date.now() > deadline) throw new Error('no reminder');
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    expect(byKey(events!).map((e) => e.body)).toEqual([
      {
        type: 'api_key.created',
        timestamp: recent(),
        data: {
          apiKey: expect.objectContaining({ id: key.apiKey.id, status: 'ENABLED', expiresAt: key.apiKey.expiresAt }),
          reason: null,
          actor: memberActor(),
        },
      },
      {
        type: 'api_key.expiring',
        timestamp: recent(),
        data: {
          apiKey: {
            id: key.apiKey.id,
            kind: 'PERSONAL',
            name: 'short lived',
            hint: `kp_…${key.secret.slice(-4)}`,
            status: 'ENABLED',
            expiresAt: key.apiKey.expiresAt,
            owner: owner(),
          },
          reason: null,
          actor: { type: 'SYSTEM', id: null, name: 'Keyplane' },
        },
      },
    ]);
  });
});

describe('member.deprovisioned', () => {
  it('SCIM PATCH active false: member.deprovisioned (actor SCIM) and api_key.revoked (DEPROVISIONED) per key', async () => {
    const leaving = await addUser(server, team.teamId);
    const second = (await gql(leaving.key, GENERATE, { input: { name: 'second' } })).data.generateApiKey;
    const [events, revoked] = await sentBy([all, revokedOnly], async () => {
      const res = await scim(scimKey, 'PATCH', `/Users/${leaving.user.id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', value: { active: false } }],
      });
      expect(res.status).toBe(200);
    });
    const scimActor = { type: 'SCIM', id: null, name: `SCIM key ${scimKeyHint}` };
    const leaver = { id: leaving.user.id, name: leaving.user.name, email: leaving.user.email };
    const revokedBody = (id: string, name: string, hint: string) => ({
      type: 'api_key.revoked',
      timestamp: recent(),
      data: {
        apiKey: { id, kind: 'PERSONAL', name, hint, status: 'REVOKED', expiresAt: null, owner: leaver },
        reason: 'DEPROVISIONED',
        actor: scimActor,
      },
    });
    const keyEvents = [
      revokedBody(leaving.apiKey.id, leaving.apiKey.name, `kp_…${leaving.key.slice(-4)}`),
      revokedBody(second.apiKey.id, 'second', `kp_…${second.secret.slice(-4)}`),
    ].sort((a, b) => a.data.apiKey.id.localeCompare(b.data.apiKey.id));
    expect(byKey(events!).map((e) => e.body)).toEqual([
      ...keyEvents,
      {
        type: 'member.deprovisioned',
        timestamp: recent(),
        data: {
          member: { ...leaver, externalId: null, active: false, deleted: false },
          reason: null,
          actor: scimActor,
        },
      },
    ]);
    expect(byKey(revoked!).map((e) => e.body)).toEqual(keyEvents);

    // Deactivating an inactive member changes nothing, and sends nothing.
    const [again] = await sentBy([all], async () => {
      const res = await scim(scimKey, 'PATCH', `/Users/${leaving.user.id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      });
      expect(res.status).toBe(200);
    });
    expect(again).toEqual([]);
  });
});

describe('isolation', () => {
  it("another team's changes never reach this team's endpoints", async () => {
    const other = await addTeam(server, 'ENTERPRISE');
    const theirs = await createEndpoint(other.apiKey, ALL_TYPES);
    const [mine, mineRevoked, their] = await sentBy([all, revokedOnly, theirs], async () => {
      const key = (await gql(other.apiKey, GENERATE, { input: { name: 'theirs' } })).data.generateApiKey;
      await gql(other.apiKey, REVOKE, { ids: [key.apiKey.id] });
    });
    expect(mine).toEqual([]);
    expect(mineRevoked).toEqual([]);
    expect(their!.map((e) => e.body.type)).toEqual(['api_key.created', 'api_key.revoked']);

    // Another team's admin pasting this team's key: their report covers their keys only.
    const mineLeaked = (await gql(member.key, GENERATE, { input: { name: 'seen by another team' } })).data.generateApiKey;
    const [afterReport, theirAfterReport] = await sentBy([all, theirs], () =>
      gql(other.apiKey, 'mutation ($t: String!) { reportExposedApiKeys(text: $t, location: "elsewhere") { id } }', {
        t: mineLeaked.secret,
      }),
    );
    expect(afterReport).toEqual([]);
    expect(theirAfterReport).toEqual([]);
  });

  it('a disabled endpoint gets nothing; enabled again, it gets the next events only', async () => {
    const path = receiver.path();
    const created = await gql(team.adminKey, CREATE_ENDPOINT, {
      input: { url: path.url, eventTypes: ['api_key.created'], enabled: false },
    });
    path.bind(created.data.createWebhookEndpoint.secret);
    const paused: Endpoint = { id: created.data.createWebhookEndpoint.endpoint.id, delivered: path.delivered };
    const [whilePaused] = await sentBy([paused], () => gql(member.key, GENERATE, { input: { name: 'while paused' } }));
    expect(whilePaused).toEqual([]);
    await gql(
      team.adminKey,
      'mutation ($id: ID!, $input: WebhookEndpointInput!) { updateWebhookEndpoint(id: $id, input: $input) { enabled } }',
      {
        id: paused.id,
        input: { url: path.url, eventTypes: ['api_key.created'], enabled: true },
      },
    );
    let key: any;
    const [resumed] = await sentBy([paused], async () => {
      key = (await gql(member.key, GENERATE, { input: { name: 'after resuming' } })).data.generateApiKey;
    });
    expect(resumed!.map((e) => [e.body.type, e.body.data.apiKey.id])).toEqual([['api_key.created', key.apiKey.id]]);
  });

  it('a SCIM PATCH refused by its second operation rolls back the deactivation of its first: nothing is sent', async () => {
    const staying = await addUser(server, team.teamId);
    const [events, revoked] = await sentBy([all, revokedOnly], async () => {
      const res = await scim(scimKey, 'PATCH', `/Users/${staying.user.id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [
          { op: 'replace', value: { active: false } },
          { op: 'replace', path: 'userName', value: member.user.email },
        ],
      });
      expect(res.status).toBe(409);
    });
    expect(events).toEqual([]);
    expect(revoked).toEqual([]);
    expect(await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: staying.apiKey.id } })).toMatchObject({
      status: 'ENABLED',
    });
  });

  it('a refused change sends nothing (regenerateApiKey of a revoked key)', async () => {
    const key = (await gql(member.key, GENERATE, { input: { name: 'gone' } })).data.generateApiKey;
    await gql(member.key, 'mutation ($id: ID!) { deleteApiKey(id: $id) { id } }', { id: key.apiKey.id });
    const [events] = await sentBy([all], async () => {
      const res = await gql(member.key, 'mutation ($id: ID!) { regenerateApiKey(id: $id) { secret } }', { id: key.apiKey.id }, true);
      expect(res.errors?.length).toBe(1);
    });
    expect(events).toEqual([]);
  });
});

/** The part of a key event that tells its cause: type, key, kind, status, reason, actor type. */
const gist = (e: Delivered) => [
  e.body.type,
  e.body.data.apiKey?.id ?? e.body.data.member?.id,
  e.body.data.apiKey?.kind,
  e.body.data.apiKey?.status,
  e.body.data.reason,
  e.body.data.actor.type,
];
const sortedGists = (events: Delivered[] | undefined) => byKey(events!).map(gist);

describe('the other paths to each event', () => {
  it('GitLab intake with auto revoke: api_key.exposed and api_key.revoked (EXPOSED) by the SCANNER', async () => {
    await gql(
      team.adminKey,
      'mutation { updateApiKeySettings(input: { autoRevokeExposedKeys: true, exposedKeysAction: IGNORE }) { warning } }',
    );
    const leaked = (await gql(member.key, GENERATE, { input: { name: 'leaked on gitlab' } })).data.generateApiKey;
    const [events] = await sentBy([all], async () => {
      const res = await fetch(server.url.replace(/\/graphql$/, '/scanner/gitlab/revoke_tokens'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: GITLAB_TOKEN },
        body: JSON.stringify([
          { type: 'gitleaks_rule_id_keyplane_api_key', token: leaked.secret, location: 'https://gitlab.example.com/p/-/blob/1/.env' },
        ]),
      });
      expect(res.status).toBe(204);
    });
    await gql(team.adminKey, 'mutation { updateApiKeySettings(input: { autoRevokeExposedKeys: false }) { warning } }');
    const scanner = { type: 'SCANNER', id: null, name: 'secret scanner' };
    expect(byKey(events!).map((e) => [e.body.type, e.body.data.apiKey.id, e.body.data.reason, e.body.data.actor])).toEqual([
      ['api_key.exposed', leaked.apiKey.id, 'EXPOSED', scanner],
      ['api_key.revoked', leaked.apiKey.id, 'EXPOSED', scanner],
    ]);
  });

  it('reportExposedApiKeys without auto revoke: api_key.exposed only, the key still ENABLED', async () => {
    const leaked = (await gql(member.key, GENERATE, { input: { name: 'leaked, kept' } })).data.generateApiKey;
    const [events, revoked] = await sentBy([all, revokedOnly], () =>
      gql(team.adminKey, 'mutation ($t: String!) { reportExposedApiKeys(text: $t, location: "chat") { id } }', { t: leaked.secret }),
    );
    expect(sortedGists(events)).toEqual([['api_key.exposed', leaked.apiKey.id, 'PERSONAL', 'ENABLED', 'EXPOSED', 'USER']]);
    expect(revoked).toEqual([]);
    // The same finding reported again is not a new exposure.
    const [again] = await sentBy([all], () =>
      gql(team.adminKey, 'mutation ($t: String!) { reportExposedApiKeys(text: $t, location: "chat") { id } }', { t: leaked.secret }),
    );
    expect(again).toEqual([]);
  });

  it('collection access keys: revokeCollectionAccessKey (REVOKED_BY_OWNER or admin) and deleteCollection (COLLECTION_DELETED)', async () => {
    const collection = (await gql(member.key, 'mutation { createCollection(input: { name: "Short-lived share" }) { id } }')).data
      .createCollection;
    const share = async () =>
      (await gql(member.key, 'mutation ($id: ID!) { shareCollection(collectionId: $id) { accessKey { id } } }', { id: collection.id })).data
        .shareCollection.accessKey.id as string;
    const first = await share();
    const second = await share();
    const [revokedOne] = await sentBy([all], () =>
      gql(member.key, 'mutation ($id: ID!) { revokeCollectionAccessKey(id: $id) { id revocationReason } }', { id: first }),
    );
    const reason = (await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: first } })).revocationReason;
    expect(sortedGists(revokedOne)).toEqual([['api_key.revoked', first, 'COLLECTION_ACCESS', 'REVOKED', reason, 'USER']]);
    const [deleted] = await sentBy([all], () =>
      gql(member.key, 'mutation ($id: ID!) { deleteCollection(id: $id) { id } }', { id: collection.id }),
    );
    expect(sortedGists(deleted)).toEqual([['api_key.revoked', second, 'COLLECTION_ACCESS', 'REVOKED', 'COLLECTION_DELETED', 'USER']]);
  });

  it('SCIM keys: regenerateScimApiKey → api_key.rotated, revokeScimApiKey → api_key.revoked (REVOKED_BY_ADMIN)', async () => {
    const made = (await gql(team.adminKey, 'mutation { generateScimApiKey(name: "spare") { scimApiKey { id } } }')).data.generateScimApiKey;
    const id = made.scimApiKey.id as string;
    const [rotated] = await sentBy([all], () =>
      gql(team.adminKey, 'mutation ($id: ID!) { regenerateScimApiKey(id: $id) { scimApiKey { id } } }', { id }),
    );
    expect(sortedGists(rotated)).toEqual([['api_key.rotated', id, 'SCIM', 'ENABLED', null, 'USER']]);
    const [revoked] = await sentBy([all], () => gql(team.adminKey, 'mutation ($id: ID!) { revokeScimApiKey(id: $id) { id } }', { id }));
    expect(sortedGists(revoked)).toEqual([['api_key.revoked', id, 'SCIM', 'REVOKED', 'REVOKED_BY_ADMIN', 'USER']]);
  });

  it('revokeAllApiKeys: one api_key.revoked per key revoked', async () => {
    const other = await addTeam(server, 'ENTERPRISE');
    const theirs = await createEndpoint(other.apiKey, ['api_key.revoked']);
    const a = await addUser(server, other.teamId);
    const b = await addUser(server, other.teamId);
    const [events] = await sentBy([theirs], () => gql(other.apiKey, 'mutation { revokeAllApiKeys { revokedCount } }'));
    expect(sortedGists(events)).toEqual(
      [a.apiKey.id, b.apiKey.id].sort().map((id) => ['api_key.revoked', id, 'PERSONAL', 'REVOKED', 'REVOKED_BY_ADMIN', 'USER']),
    );
  });

  it('a key reaching its expiry: api_key.revoked (EXPIRED) by the SYSTEM once the job writes it down', async () => {
    const key = (await gql(member.key, GENERATE, { input: { name: 'about to expire' } })).data.generateApiKey;
    const [events] = await sentBy([all], async () => {
      await server.services.prisma.apiKey.update({ where: { id: key.apiKey.id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
      const deadline = Date.now() + 15_000;
      while ((await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: key.apiKey.id } })).status !== 'REVOKED') {
        if (Date.now() > deadline) throw new Error('the expiry was not written down');
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    expect(sortedGists(events)).toEqual([['api_key.revoked', key.apiKey.id, 'PERSONAL', 'REVOKED', 'EXPIRED', 'SYSTEM']]);
  });

  it('SCIM DELETE: member.deprovisioned with deleted true, and its keys revoked (DEPROVISIONED)', async () => {
    const leaving = await addUser(server, team.teamId);
    const [events] = await sentBy([all], async () => {
      expect(
        (
          await fetch(server.url.replace(/\/graphql$/, `/scim/v2/Users/${leaving.user.id}`), {
            method: 'DELETE',
            headers: { authorization: `Bearer ${scimKey}` },
          })
        ).status,
      ).toBe(204);
    });
    expect(sortedGists(events)).toEqual([
      ['api_key.revoked', leaving.apiKey.id, 'PERSONAL', 'REVOKED', 'DEPROVISIONED', 'SCIM'],
      ['member.deprovisioned', leaving.user.id, undefined, undefined, null, 'SCIM'],
    ]);
    expect(events!.find((e) => e.body.type === 'member.deprovisioned')!.body.data.member).toMatchObject({ active: false, deleted: true });
  });
});
