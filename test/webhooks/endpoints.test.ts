// The GraphQL API of webhooks (issue 19 item 1, SPEC §5 "Webhooks"): ENTERPRISE admins create,
// list, replace, delete endpoints, rotate their signing secret (whsec_…, shown once, stored only
// sealed) and send them a test event; deliveries are listed newest first with a total count.
// Inputs are checked field by field, another team's endpoint is NOT_FOUND as an unknown id, each
// change is audited without a secret, and a key's change reaches a subscribed endpoint as a
// PENDING delivery. A real server over HTTP; every accepted endpoint points at a receiver on
// 127.0.0.1 of this test (no traffic leaves the machine, whatever a dispatcher does with them).
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeOldWebhookEvents } from '../../src/webhooks/outbox.js';
import { MAX_WEBHOOK_ENDPOINTS_PER_TEAM } from '../../src/webhooks/service.js';
import type { WebhookEndpointInput } from '../generated/graphql.js';
import { graphql } from '../generated/index.js';
import { codes, gql } from '../helpers/client.js';
import { addTeam, addUser, webhookEventsRendered } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const Create = graphql(`
  mutation WhCreate($input: WebhookEndpointInput!) {
    createWebhookEndpoint(input: $input) { secret endpoint { id url description eventTypes enabled createdAt disabledReason } }
  }
`);
const Update = graphql(`
  mutation WhUpdate($id: ID!, $input: WebhookEndpointInput!) {
    updateWebhookEndpoint(id: $id, input: $input) { id url description eventTypes enabled createdAt disabledReason }
  }
`);
const Delete = graphql(`
  mutation WhDelete($id: ID!) { deleteWebhookEndpoint(id: $id) { id url description eventTypes enabled createdAt disabledReason } }
`);
const Rotate = graphql(`mutation WhRotate($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { id url } } }`);
const SendTest = graphql(`
  mutation WhSendTest($id: ID!) {
    sendTestWebhook(id: $id) { id eventId eventType status attempts lastAttemptAt nextAttemptAt responseStatus lastError }
  }
`);
const List = graphql(`query WhList { webhookEndpoints { id url description eventTypes enabled createdAt disabledReason } }`);
const Deliveries = graphql(`
  query WhDeliveries($endpointId: ID!, $first: Int, $after: String) {
    webhookDeliveries(endpointId: $endpointId, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { id eventId eventType status attempts lastAttemptAt nextAttemptAt responseStatus lastError } }
    }
  }
`);
const GenerateKey = graphql(`mutation WhGenerateKey($input: GenerateApiKeyInput!) { generateApiKey(input: $input) { apiKey { id } } }`);
const RevokeKeys = graphql(`mutation WhRevokeKeys($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }`);
const Regenerate = graphql(`mutation WhRegenerate($id: ID!) { regenerateApiKey(id: $id) { apiKey { id } } }`);

// A receiver on loopback that accepts everything: the only address an accepted endpoint names.
let receiver: Server;
let hookUrl = '';
beforeAll(async () => {
  receiver = createServer((_req, res) => res.writeHead(200).end());
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

const input = (over: Partial<WebhookEndpointInput> = {}): WebhookEndpointInput => ({
  url: `${hookUrl}/hook`,
  eventTypes: ['api_key.created', 'api_key.revoked'],
  ...over,
});

describe('with WEBHOOK_ALLOW_PRIVATE_URLS (endpoints on this machine)', () => {
  const server = useTestServer({ WEBHOOK_ALLOW_PRIVATE_URLS: 'true', RATE_LIMIT_PER_MINUTE: '100000' });

  async function create(key: string, over: Partial<WebhookEndpointInput> = {}) {
    const res = await gql(server.url, Create, { input: input(over) }, { key });
    if (!res.data) throw new Error(`createWebhookEndpoint: ${JSON.stringify(res.errors)}`);
    return res.data.createWebhookEndpoint;
  }
  const row = (id: string) => server.services.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id } });
  const auditOf = (targetId: string) =>
    server.services.prisma.auditEvent.findMany({ where: { targetType: 'webhook', targetId }, orderBy: [{ at: 'asc' }, { id: 'asc' }] });
  const deliveries = async (key: string, endpointId: string, first?: number, after?: string) => {
    const res = await gql(server.url, Deliveries, { endpointId, first, after }, { key });
    if (!res.data) throw new Error(`webhookDeliveries: ${JSON.stringify(res.errors)}`);
    return res.data.webhookDeliveries;
  };

  it('creates an endpoint whose whsec_ secret is shown once and stored only sealed; lists it', async () => {
    const created = await create(server.adminKey, {
      description: '  Incident channel  ',
      eventTypes: ['api_key.revoked', 'api_key.exposed', 'api_key.revoked'],
    });
    expect(created.endpoint).toEqual({
      id: expect.any(String),
      url: `${hookUrl}/hook`,
      description: 'Incident channel',
      eventTypes: ['api_key.revoked', 'api_key.exposed'], // duplicates dropped
      enabled: true,
      createdAt: expect.any(String),
      disabledReason: null,
    });
    // Standard Webhooks: whsec_ + base64 of the key bytes (here 32, at least 24).
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(created.secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);

    // The row holds no plaintext: neither the secret nor its key part, in any column.
    const stored = await row(created.endpoint.id);
    const text = JSON.stringify(stored);
    expect(text).not.toContain(created.secret);
    expect(text).not.toContain(created.secret.slice('whsec_'.length));
    // Sealed and bound to this endpoint's id: it opens there, and nowhere else.
    expect(server.services.secretBox.open(stored.secretSealed, stored.id)).toBe(created.secret);
    expect(() => server.services.secretBox.open(stored.secretSealed, randomUUID())).toThrow(/did not open/);

    // Listed, without any secret; a second one follows it (oldest first).
    const second = await create(server.adminKey, { eventTypes: ['member.deprovisioned'] });
    expect(second.secret).not.toBe(created.secret);
    const list = await gql(server.url, List, {}, { key: server.adminKey });
    const ids = list.data!.webhookEndpoints.map((e) => e.id);
    expect(ids.indexOf(created.endpoint.id)).toBeLessThan(ids.indexOf(second.endpoint.id));
    expect(list.data!.webhookEndpoints.find((e) => e.id === created.endpoint.id)).toEqual(created.endpoint);
    expect(JSON.stringify(list)).not.toContain('whsec_');

    const [audit] = await auditOf(created.endpoint.id);
    expect(audit).toMatchObject({ action: 'webhook.created', actorType: 'USER', teamId: server.teamId });
    expect(audit!.summary).toContain(`${hookUrl}/hook`);
    expect(audit!.summary).toContain('api_key.revoked, api_key.exposed');
  });

  it('update replaces every setting (omitted description removed, enabled omitted = true); re-enabling clears disabledReason', async () => {
    const { endpoint } = await create(server.adminKey, { description: 'old', eventTypes: ['api_key.created'], enabled: false });
    expect(endpoint.enabled).toBe(false);

    const replaced = await gql(
      server.url,
      Update,
      { id: endpoint.id, input: { url: `${hookUrl}/other`, eventTypes: ['api_key.rotated', 'api_key.expiring'] } },
      { key: server.adminKey },
    );
    expect(replaced.data?.updateWebhookEndpoint).toEqual({
      ...endpoint,
      url: `${hookUrl}/other`,
      description: null,
      eventTypes: ['api_key.rotated', 'api_key.expiring'],
      enabled: true,
    });

    // As the dispatcher leaves an endpoint that kept failing: disabled, with a reason.
    await server.services.prisma.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { enabled: false, disabledReason: 'failing for 120 hours', failingSince: new Date(Date.now() - 3_600_000) },
    });
    const listed = await gql(server.url, List, {}, { key: server.adminKey });
    expect(listed.data!.webhookEndpoints.find((e) => e.id === endpoint.id)).toMatchObject({
      enabled: false,
      disabledReason: 'failing for 120 hours',
    });
    // Kept disabled: the reason stays.
    const stillOff = await gql(
      server.url,
      Update,
      { id: endpoint.id, input: { url: `${hookUrl}/other`, eventTypes: ['api_key.rotated'], enabled: false, description: 'paused' } },
      { key: server.adminKey },
    );
    expect(stillOff.data?.updateWebhookEndpoint).toMatchObject({
      enabled: false,
      disabledReason: 'failing for 120 hours',
      description: 'paused',
    });
    const reenabled = await gql(
      server.url,
      Update,
      { id: endpoint.id, input: { url: `${hookUrl}/other`, eventTypes: ['api_key.rotated'], enabled: true } },
      { key: server.adminKey },
    );
    expect(reenabled.data?.updateWebhookEndpoint).toMatchObject({ enabled: true, disabledReason: null, description: null });
    expect((await row(endpoint.id)).failingSince).toBeNull();

    const events = await auditOf(endpoint.id);
    expect(events.map((e) => e.action)).toEqual(['webhook.created', 'webhook.updated', 'webhook.updated', 'webhook.updated']);
    expect(events[1]!.summary).toContain(`url ${hookUrl}/hook → ${hookUrl}/other`);
    expect(events[1]!.summary).toContain('event types api_key.created → api_key.rotated, api_key.expiring');
    expect(events[3]!.summary).toMatch(/enabled/);
  });

  it('rotates the secret: a new one shown once, the old one kept sealed for 24 h', async () => {
    const created = await create(server.adminKey);
    const before = Date.now();
    const rotated = await gql(server.url, Rotate, { id: created.endpoint.id }, { key: server.adminKey });
    const { secret, endpoint } = rotated.data!.rotateWebhookSecret;
    expect(endpoint.id).toBe(created.endpoint.id);
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(created.secret);

    const stored = await row(endpoint.id);
    const text = JSON.stringify(stored);
    for (const s of [secret, created.secret]) expect(text).not.toContain(s.slice('whsec_'.length));
    expect(server.services.secretBox.open(stored.secretSealed, stored.id)).toBe(secret);
    expect(server.services.secretBox.open(stored.previousSecretSealed!, stored.id)).toBe(created.secret);
    const day = 24 * 3_600_000;
    expect(stored.previousSecretExpiresAt!.getTime()).toBeGreaterThanOrEqual(before + day - 1_000);
    expect(stored.previousSecretExpiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + day + 1_000);

    const events = await auditOf(endpoint.id);
    expect(events.map((e) => e.action)).toEqual(['webhook.created', 'webhook.secret_rotated']);
    for (const e of events) {
      for (const s of [secret, created.secret]) expect(JSON.stringify(e)).not.toContain(s.slice('whsec_'.length));
      expect(e.summary).not.toContain('whsec_');
    }
  });

  it('sendTestWebhook enqueues a webhook.test for that endpoint only (also a disabled one), listed by webhookDeliveries', async () => {
    const { endpoint } = await create(server.adminKey, { enabled: false });
    const other = await create(server.adminKey);
    const first = await gql(server.url, SendTest, { id: endpoint.id }, { key: server.adminKey });
    const delivery = first.data!.sendTestWebhook;
    expect(delivery).toEqual({
      id: expect.any(String),
      eventId: expect.stringMatching(/^msg_/),
      eventType: 'webhook.test',
      status: 'PENDING',
      attempts: 0,
      lastAttemptAt: null,
      nextAttemptAt: expect.any(String),
      responseStatus: null,
      lastError: null,
    });
    // The body a receiver will get: the endpoint, a message and who sent it; no secret.
    const event = await server.services.prisma.webhookEvent.findUniqueOrThrow({ where: { id: delivery.eventId } });
    const body = JSON.parse(event.body);
    expect(body).toEqual({
      type: 'webhook.test',
      timestamp: expect.any(String),
      data: {
        endpoint: { id: endpoint.id, url: endpoint.url },
        message: expect.any(String),
        actor: { type: 'USER', id: expect.any(String), name: expect.any(String) },
      },
    });
    expect(event.body).not.toContain('whsec_');

    const second = (await gql(server.url, SendTest, { id: endpoint.id }, { key: server.adminKey })).data!.sendTestWebhook;
    const page = await deliveries(server.adminKey, endpoint.id);
    expect(page.totalCount).toBe(2);
    expect(page.edges.map((e) => e.node.id)).toEqual([second.id, delivery.id]); // newest first
    expect(page.edges[1]!.node).toMatchObject({ id: delivery.id, eventId: delivery.eventId, eventType: 'webhook.test' });
    // Only for that endpoint: the other one of the team got nothing.
    expect((await deliveries(server.adminKey, other.endpoint.id)).totalCount).toBe(0);

    // Keyset pages of one: the same two, in the same order; totalCount on every page.
    const p1 = await deliveries(server.adminKey, endpoint.id, 1);
    expect(p1).toMatchObject({ totalCount: 2, pageInfo: { hasNextPage: true, hasPreviousPage: false } });
    const p2 = await deliveries(server.adminKey, endpoint.id, 1, p1.pageInfo.endCursor!);
    expect(p2).toMatchObject({ totalCount: 2, pageInfo: { hasNextPage: false, hasPreviousPage: true } });
    expect([...p1.edges, ...p2.edges].map((e) => e.node.id)).toEqual([second.id, delivery.id]);

    // A finished delivery has no next attempt.
    await server.services.prisma.webhookDelivery.update({ where: { id: delivery.id }, data: { status: 'FAILED', attempts: 8 } });
    const failed = (await deliveries(server.adminKey, endpoint.id)).edges.find((e) => e.node.id === delivery.id)!.node;
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 8, nextAttemptAt: null });

    // Bad paging: a made-up cursor, a page over 500.
    const bad = await gql(server.url, Deliveries, { endpointId: endpoint.id, after: 'not-a-cursor' }, { key: server.adminKey });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.errors![0]!.extensions).toMatchObject({ field: 'after' });
    const big = await gql(server.url, Deliveries, { endpointId: endpoint.id, first: 501 }, { key: server.adminKey });
    expect(big.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first', limit: 'maxPageSize' });
  });

  it('deletes an endpoint with its deliveries, answering with it as it was', async () => {
    const { endpoint } = await create(server.adminKey, { description: 'to go' });
    const { sendTestWebhook } = (await gql(server.url, SendTest, { id: endpoint.id }, { key: server.adminKey })).data!;
    const deleted = await gql(server.url, Delete, { id: endpoint.id }, { key: server.adminKey });
    expect(deleted.data?.deleteWebhookEndpoint).toEqual(endpoint);
    expect(await server.services.prisma.webhookEndpoint.findUnique({ where: { id: endpoint.id } })).toBeNull();
    expect(await server.services.prisma.webhookDelivery.findUnique({ where: { id: sendTestWebhook.id } })).toBeNull();
    const list = await gql(server.url, List, {}, { key: server.adminKey });
    expect(list.data!.webhookEndpoints.map((e) => e.id)).not.toContain(endpoint.id);
    const again = await gql(server.url, Delete, { id: endpoint.id }, { key: server.adminKey });
    expect(codes(again)).toEqual(['NOT_FOUND']);
    expect((await auditOf(endpoint.id)).map((e) => [e.action, e.summary.includes(endpoint.url)])).toEqual([
      ['webhook.created', true],
      ['webhook.deleted', true],
    ]);
  });

  it('is for admins (MEMBER: FORBIDDEN, TEAM_ADMIN as SUPER_ADMIN) of ENTERPRISE teams (FREE: PLAN_REQUIRED)', async () => {
    const { endpoint } = await create(server.adminKey);
    const member = await addUser(server, server.teamId, 'MEMBER');
    const teamAdmin = await addUser(server, server.teamId, 'TEAM_ADMIN');
    const free = await addTeam(server, 'FREE');
    const freeMember = await addUser(server, free.teamId, 'MEMBER');
    const id = endpoint.id;
    const calls = [
      (key: string) => gql(server.url, List, {}, { key }),
      (key: string) => gql(server.url, Deliveries, { endpointId: id }, { key }),
      (key: string) => gql(server.url, Create, { input: input() }, { key }),
      (key: string) => gql(server.url, Update, { id, input: input() }, { key }),
      (key: string) => gql(server.url, Rotate, { id }, { key }),
      (key: string) => gql(server.url, SendTest, { id }, { key }),
      (key: string) => gql(server.url, Delete, { id }, { key }),
    ];
    for (const call of calls) {
      expect(codes(await call(member.key))).toEqual(['FORBIDDEN']);
      expect(codes(await call(free.apiKey))).toEqual(['PLAN_REQUIRED']);
      expect(codes(await call(freeMember.key))).toEqual(['FORBIDDEN']); // role before plan
    }
    // Nothing changed, nothing was sent.
    expect(await row(id)).toMatchObject({ url: endpoint.url, previousSecretSealed: null });
    const tests = { endpointId: id, event: { type: 'webhook.test' } };
    expect(await server.services.prisma.webhookDelivery.count({ where: tests })).toBe(0);

    const byTeamAdmin = await create(teamAdmin.key);
    expect((await row(byTeamAdmin.endpoint.id)).createdById).toBe(teamAdmin.user.id);
    expect(codes(await gql(server.url, Rotate, { id }, { key: teamAdmin.key }))).toEqual([]);
  });

  it("answers NOT_FOUND for another team's endpoint exactly as for an unknown id, and changes nothing", async () => {
    const { endpoint } = await create(server.adminKey);
    const other = await addTeam(server, 'ENTERPRISE');
    const unknown = randomUUID();
    const otherList = await gql(server.url, List, {}, { key: other.apiKey });
    expect(otherList.data!.webhookEndpoints).toEqual([]);
    const calls = [
      (key: string, id: string) => gql(server.url, Deliveries, { endpointId: id }, { key }),
      (key: string, id: string) => gql(server.url, Update, { id, input: input({ url: `${hookUrl}/stolen` }) }, { key }),
      (key: string, id: string) => gql(server.url, Rotate, { id }, { key }),
      (key: string, id: string) => gql(server.url, SendTest, { id }, { key }),
      (key: string, id: string) => gql(server.url, Delete, { id }, { key }),
    ];
    for (const call of calls) {
      const theirs = await call(other.apiKey, endpoint.id);
      const none = await call(other.apiKey, unknown);
      expect(codes(theirs)).toEqual(['NOT_FOUND']);
      expect(theirs.errors![0]!.message.replace(endpoint.id, '<id>')).toBe(none.errors![0]!.message.replace(unknown, '<id>'));
      expect(theirs.errors![0]!.extensions).toEqual(none.errors![0]!.extensions);
    }
    expect(await row(endpoint.id)).toMatchObject({ url: endpoint.url, previousSecretSealed: null });
    const tests = { endpointId: endpoint.id, event: { type: 'webhook.test' } };
    expect(await server.services.prisma.webhookDelivery.count({ where: tests })).toBe(0);
    // An unknown endpoint is refused before a bad input (existence, then input).
    const both = await gql(server.url, Update, { id: unknown, input: input({ eventTypes: [] }) }, { key: server.adminKey });
    expect(codes(both)).toEqual(['NOT_FOUND']);
  });

  it('refuses bad input naming the field: url, description, eventTypes', async () => {
    const refusals: [Partial<WebhookEndpointInput>, string, RegExp?][] = [
      [{ url: 'ftp://127.0.0.1/hook' }, 'input.url'],
      [{ url: 'javascript:alert(1)' }, 'input.url'],
      [{ url: 'not a url' }, 'input.url'],
      // link-local and the cloud metadata address: refused even with the setting on
      [{ url: 'http://169.254.169.254/latest/meta-data/' }, 'input.url'],
      [{ url: 'https://169.254.169.254/' }, 'input.url'],
      [{ url: 'https://169.254.1.1/hook' }, 'input.url'],
      [{ description: 'a\u0000b' }, 'input.description'],
      [{ description: 'evil\u202Eexe' }, 'input.description'],
      [{ description: 'tab\there' }, 'input.description'],
      [{ description: 'x'.repeat(501) }, 'input.description', /500/],
      [{ eventTypes: [] }, 'input.eventTypes'],
      [{ eventTypes: ['api_key.created', 'api_key.deleted'] }, 'input.eventTypes', /api_key\.deleted/],
      [{ eventTypes: ['webhook.test'] }, 'input.eventTypes', /webhook\.test/],
      [{ eventTypes: ['API_KEY.CREATED'] }, 'input.eventTypes', /API_KEY\.CREATED/],
    ];
    const before = await server.services.prisma.webhookEndpoint.count();
    for (const [over, field, message] of refusals) {
      const res = await gql(server.url, Create, { input: input(over) }, { key: server.adminKey });
      expect(codes(res), JSON.stringify(over)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions?.field, JSON.stringify(over)).toBe(field);
      if (message) expect(res.errors![0]!.message).toMatch(message);
    }
    const tooMany = await gql(
      server.url,
      Create,
      { input: input({ eventTypes: [...Array(7)].map(() => 'api_key.created') }) },
      { key: server.adminKey },
    );
    expect(tooMany.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.eventTypes' });
    // The same rules on update.
    const { endpoint } = await create(server.adminKey);
    for (const [over, field] of refusals) {
      const res = await gql(server.url, Update, { id: endpoint.id, input: input(over) }, { key: server.adminKey });
      expect(res.errors?.[0]?.extensions?.field, JSON.stringify(over)).toBe(field);
    }
    expect(await server.services.prisma.webhookEndpoint.count()).toBe(before + 1);
    expect(await row(endpoint.id)).toMatchObject({ url: endpoint.url, eventTypes: endpoint.eventTypes, description: null });
    // A description of exactly 500 characters and every known type at once are fine.
    const full = await create(server.adminKey, {
      description: 'd'.repeat(500),
      eventTypes: ['api_key.created', 'api_key.rotated', 'api_key.expiring', 'api_key.revoked', 'api_key.exposed', 'member.deprovisioned'],
    });
    expect(full.endpoint.eventTypes).toHaveLength(6);
  });

  it('refuses the 21st endpoint of a team with extensions.limit', async () => {
    expect(MAX_WEBHOOK_ENDPOINTS_PER_TEAM).toBe(20);
    const team = await addTeam(server, 'ENTERPRISE');
    for (let i = 0; i < MAX_WEBHOOK_ENDPOINTS_PER_TEAM; i++) await create(team.apiKey, { url: `${hookUrl}/${i}` });
    const res = await gql(server.url, Create, { input: input() }, { key: team.apiKey });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.extensions).toMatchObject({ limit: 'maxWebhookEndpointsPerTeam' });
    expect(await server.services.prisma.webhookEndpoint.count({ where: { teamId: team.teamId } })).toBe(MAX_WEBHOOK_ENDPOINTS_PER_TEAM);
    // One deleted makes room for one.
    const list = await gql(server.url, List, {}, { key: team.apiKey });
    await gql(server.url, Delete, { id: list.data!.webhookEndpoints[0]!.id }, { key: team.apiKey });
    await create(team.apiKey);
  });

  it("a key's change reaches the endpoints subscribed to its type (not others, not a disabled one) as a delivery", async () => {
    const team = await addTeam(server, 'ENTERPRISE');
    const subscribed = await create(team.apiKey, { eventTypes: ['api_key.created', 'api_key.revoked'] });
    const rotationsOnly = await create(team.apiKey, { eventTypes: ['api_key.rotated'] });
    const disabled = await create(team.apiKey, { eventTypes: ['api_key.created', 'api_key.revoked'], enabled: false });

    const generated = await gql(server.url, GenerateKey, { input: { name: 'deploy bot' } }, { key: team.apiKey });
    const keyId = generated.data!.generateApiKey.apiKey.id;
    const revoked = await gql(server.url, RevokeKeys, { ids: [keyId] }, { key: team.apiKey });
    expect(revoked.data?.revokeApiKeys.revokedCount).toBe(1);
    await webhookEventsRendered(server);

    const page = await deliveries(team.apiKey, subscribed.endpoint.id);
    expect(page.totalCount).toBe(2);
    expect(page.edges.map((e) => e.node.eventType)).toEqual(['api_key.revoked', 'api_key.created']);
    for (const { node } of page.edges) {
      // PENDING as committed (a dispatcher, where one runs, may already have posted it to the receiver).
      expect(['PENDING', 'SUCCEEDED']).toContain(node.status);
      const event = await server.services.prisma.webhookEvent.findUniqueOrThrow({ where: { id: node.eventId } });
      expect(JSON.parse(event.body).data.apiKey).toMatchObject({ id: keyId, name: 'deploy bot' });
      expect(event.body).not.toMatch(/kp_[0-9A-Za-z]{36}/);
    }
    expect((await deliveries(team.apiKey, rotationsOnly.endpoint.id)).totalCount).toBe(0);
    expect((await deliveries(team.apiKey, disabled.endpoint.id)).totalCount).toBe(0);

    // A rotation reaches the endpoint subscribed to it alone.
    const other = await gql(server.url, GenerateKey, { input: { name: 'ci' } }, { key: team.apiKey });
    await gql(server.url, Regenerate, { id: other.data!.generateApiKey.apiKey.id }, { key: team.apiKey });
    await webhookEventsRendered(server);
    const rotations = await deliveries(team.apiKey, rotationsOnly.endpoint.id);
    expect(rotations.edges.map((e) => e.node.eventType)).toEqual(['api_key.rotated']);
    expect((await deliveries(team.apiKey, subscribed.endpoint.id)).totalCount).toBe(3); // + the second key's creation
  });

  it('NOT_FOUND does not repeat a long or unprintable id back', async () => {
    for (const id of ['x'.repeat(100_000), 'x\n\u202e<img src=x>']) {
      const res = await gql(server.url, Delete, { id }, { key: server.adminKey });
      expect(codes(res)).toEqual(['NOT_FOUND']);
      expect(res.errors![0]!.message).toBe('Webhook endpoint (the given id) was not found');
    }
  });

  it("names an endpoint in audit summaries by origin and first path segment (a receiver's token in the path or query stays out)", async () => {
    const created = await create(server.adminKey, { url: `${hookUrl}/services/T0001/B0002/receiverToken42?sig=querySecret7` });
    const [event] = await auditOf(created.endpoint.id);
    expect(event!.summary).toContain(`webhook ${hookUrl}/services/…`);
    expect(event!.summary).not.toMatch(/receiverToken42|querySecret7/);
    expect(created.endpoint.url).toBe(`${hookUrl}/services/T0001/B0002/receiverToken42?sig=querySecret7`);
    // And when the URL changes: both sides named the same way.
    await gql(
      server.url,
      Update,
      { id: created.endpoint.id, input: input({ url: `${hookUrl}/hooks/other/receiverToken43` }) },
      { key: server.adminKey },
    );
    const updated = (await auditOf(created.endpoint.id)).find((e) => e.action === 'webhook.updated')!;
    expect(updated.summary).toContain(`url ${hookUrl}/services/… → ${hookUrl}/hooks/…`);
    expect(updated.summary).not.toMatch(/receiverToken4|querySecret7/);
  });

  it('purges events past 30 days with their deliveries, keeping those still PENDING', async () => {
    const { prisma } = server.services;
    const endpoint = await create(server.adminKey);
    const ids = { old: `msg_old${randomUUID()}`, oldPending: `msg_oldp${randomUUID()}`, recent: `msg_new${randomUUID()}` };
    const longAgo = new Date(Date.now() - 31 * 86_400_000);
    for (const [name, id] of Object.entries(ids)) {
      await prisma.webhookEvent.create({
        data: { id, teamId: server.teamId, type: 'api_key.created', body: '{}', createdAt: name === 'recent' ? new Date() : longAgo },
      });
      await prisma.webhookDelivery.create({
        data: {
          eventId: id,
          endpointId: endpoint.endpoint.id,
          teamId: server.teamId,
          status: name === 'oldPending' ? 'PENDING' : 'SUCCEEDED',
        },
      });
    }
    expect(await purgeOldWebhookEvents(prisma)).toBeGreaterThanOrEqual(1);
    const left = (await prisma.webhookEvent.findMany({ where: { id: { in: Object.values(ids) } } })).map((e) => e.id).sort();
    expect(left).toEqual([ids.oldPending, ids.recent].sort());
    expect(await prisma.webhookDelivery.count({ where: { eventId: ids.old } })).toBe(0);
  });

  // Before the server's own afterAll: no event of this file holds a signing secret.
  afterAll(async () => {
    const events = await server.services.prisma.auditEvent.findMany({ where: { targetType: 'webhook' } });
    expect(events.length).toBeGreaterThan(10);
    for (const e of events) expect(JSON.stringify(e)).not.toMatch(/whsec_|[A-Za-z0-9+/]{43}=/);
  });
});

describe('without WEBHOOK_ALLOW_PRIVATE_URLS (the default)', () => {
  const server = useTestServer();

  it('refuses every url but https, and link-local or metadata addresses, naming input.url (nothing is created)', async () => {
    for (const url of [
      'http://example.com/hook',
      `${hookUrl}/hook`,
      'ftp://example.com/hook',
      'javascript:alert(1)',
      'data:text/plain,hi',
      'https://169.254.169.254/latest/meta-data/',
    ]) {
      const res = await gql(server.url, Create, { input: input({ url }) }, { key: server.adminKey });
      expect(codes(res), url).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions?.field, url).toBe('input.url');
    }
    expect(await server.services.prisma.webhookEndpoint.count()).toBe(0);
    expect(await server.services.prisma.auditEvent.count({ where: { targetType: 'webhook' } })).toBe(0);
  });
});
