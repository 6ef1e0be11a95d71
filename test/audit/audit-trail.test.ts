// The audit trail (SPEC §5 "Audit"): every state change made over HTTP writes its event in its own
// transaction, with the actor (USER + key hint, SYSTEM, SCANNER), address and user agent; a refused
// change writes none; no event holds a secret; auditEvents pages and filters; the trail is
// append-only and purged after AUDIT_RETENTION_DAYS.
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { loadConfig } from '../../src/config.js';
import type { AuditEvent } from '../../src/generated/prisma/client.js';
import { displayHint } from '../../src/keys/format.js';
import { graphql } from '../generated/index.js';
import { codes, gql } from '../helpers/client.js';
import { addTeam, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const GITHUB = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const UA = 'audit-test/1.0 (+https://example.com)';

const Generate = graphql(
  `mutation AuGenerate($input: GenerateApiKeyInput!) { generateApiKey(input: $input) { secret apiKey { id hint } } }`,
);
const Rename = graphql(`mutation AuRename($id: ID!, $name: String!) { renameApiKey(id: $id, name: $name) { id } }`);
const SetEnabled = graphql(
  `mutation AuEnabled($id: ID!, $enabled: Boolean!) { setApiKeyEnabled(id: $id, enabled: $enabled) { id status } }`,
);
const SetExpiry = graphql(`mutation AuExpiry($id: ID!, $at: DateTime) { setApiKeyExpiry(id: $id, expiresAt: $at) { id expiresAt } }`);
const Regenerate = graphql(`mutation AuRegenerate($id: ID!) { regenerateApiKey(id: $id) { secret apiKey { id hint } } }`);
const RegenerateWithOverlap = graphql(`
  mutation AuRegenerateOverlap($id: ID!, $minutes: Int!) { regenerateApiKey(id: $id, overlapMinutes: $minutes) { apiKey { previousSecretExpiresAt } } }
`);
const Delete = graphql(`mutation AuDelete($id: ID!) { deleteApiKey(id: $id) { id status } }`);
const CreateCollection = graphql(`mutation AuCreateC($input: CollectionInput!) { createCollection(input: $input) { id } }`);
const UpdateCollection = graphql(
  `mutation AuUpdateC($id: ID!, $input: CollectionInput!) { updateCollection(id: $id, input: $input) { id } }`,
);
const DeleteCollection = graphql(`mutation AuDeleteC($id: ID!) { deleteCollection(id: $id) { id } }`);
const Share = graphql(`mutation AuShare($id: ID!) { shareCollection(collectionId: $id) { secret accessKey { id } } }`);
const RevokeAccess = graphql(`mutation AuRevokeAccess($id: ID!) { revokeCollectionAccessKey(id: $id) { id } }`);
const Invite = graphql(`mutation AuInvite($email: String!, $name: String!) { inviteTeamMember(email: $email, name: $name) { id token } }`);
const Accept = graphql(
  `mutation AuAccept($token: String!, $keyName: String!) { acceptInvitation(token: $token, keyName: $keyName) { secret apiKey { id } } }`,
);
const UpdateSettings = graphql(`
  mutation AuSettings($input: ApiKeySettingsInput!) { updateApiKeySettings(input: $input) { updatedKeyCount warning } }
`);
const RevokeSome = graphql(`mutation AuRevokeSome($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }`);
const RevokeAll = graphql(`mutation AuRevokeAll { revokeAllApiKeys { revokedCount } }`);
const Report = graphql(
  `mutation AuReport($text: String!, $location: String!) { reportExposedApiKeys(text: $text, location: $location) { id } }`,
);
const Events = graphql(`
  query AuEvents($filter: AuditEventFilter, $first: Int, $after: String) {
    auditEvents(filter: $filter, first: $first, after: $after) {
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id at action actorType actor { id name } actorKeyHint targetType targetId summary address userAgent } }
    }
  }
`);

const server = useTestServer({
  RATE_LIMIT_PER_MINUTE: '100000',
  AUDIT_RETENTION_DAYS: '30',
  GITHUB_SCANNING_PUBLIC_KEYS: JSON.stringify({
    public_keys: [{ key_identifier: 'k1', key: GITHUB.publicKey.export({ type: 'spki', format: 'pem' }) }],
  }),
});

// Before the server's own afterAll (hooks after run in reverse order): it is still up here.
afterAll(async () => {
  // No secret in any event of the whole file: keys of every kind and invitation tokens.
  const rows = await server.services.prisma.auditEvent.findMany();
  expect(rows.length).toBeGreaterThan(50);
  for (const row of rows) {
    const text = JSON.stringify(row);
    expect(text, `event ${row.action}`).not.toMatch(/kp[cs]?_[0-9A-Za-z]{36}/);
    expect(text, `event ${row.action}`).not.toMatch(/kpinv_/);
  }
});

const call = <R, V>(doc: Parameters<typeof gql<R, V>>[1], vars: V, key: string | null) =>
  gql(server.url, doc, vars, { key, headers: { 'user-agent': UA } });

async function ok<R>(response: Promise<{ data?: R | null; errors?: unknown[] }>): Promise<R> {
  const r = await response;
  expect(r.errors).toBeUndefined();
  return r.data!;
}

/** The team's events since `since` (oldest first), straight from the table. */
function eventsOf(teamId: string, since = new Date(0)): Promise<AuditEvent[]> {
  return server.services.prisma.auditEvent.findMany({ where: { teamId, at: { gte: since } }, orderBy: [{ at: 'asc' }, { id: 'asc' }] });
}

async function team(plan: 'FREE' | 'ENTERPRISE' = 'ENTERPRISE') {
  const t = await addTeam(server, plan);
  const admin = await server.services.prisma.user.findFirstOrThrow({ where: { teamId: t.teamId } });
  const adminKey = await server.services.prisma.apiKey.findFirstOrThrow({ where: { createdById: admin.id } });
  return { ...t, admin, adminHint: displayHint('PERSONAL', adminKey.hint) };
}

const byAdmin = (t: Awaited<ReturnType<typeof team>>) => ({
  actorType: 'USER',
  actorId: t.admin.id,
  actorKeyHint: t.adminHint,
  address: '127.0.0.1',
  userAgent: UA,
});

describe('every change writes its event, with its actor', () => {
  it('bootstrap is SYSTEM; key changes by the owner are USER with the key hint, address and user agent', async () => {
    const t = await team();
    const [boot] = await eventsOf(t.teamId);
    expect(boot).toMatchObject({ action: 'api_key.created', actorType: 'SYSTEM', actorId: null, targetType: 'api_key' });

    const since = new Date();
    const { generateApiKey } = await ok(call(Generate, { input: { name: 'deploy' } }, t.apiKey));
    const id = generateApiKey.apiKey.id;
    await ok(call(Rename, { id, name: 'deploy bot' }, t.apiKey));
    await ok(call(Rename, { id, name: 'deploy bot' }, t.apiKey)); // no change: no event
    await ok(call(SetEnabled, { id, enabled: false }, t.apiKey));
    await ok(call(SetEnabled, { id, enabled: true }, t.apiKey));
    await ok(call(SetExpiry, { id, at: new Date(Date.now() + 86_400_000).toISOString() }, t.apiKey));
    const { regenerateApiKey } = await ok(call(Regenerate, { id }, t.apiKey));
    await ok(call(Delete, { id }, t.apiKey));

    const events = await eventsOf(t.teamId, since);
    expect(events.map((e) => e.action)).toEqual([
      'api_key.created',
      'api_key.renamed',
      'api_key.disabled',
      'api_key.enabled',
      'api_key.expiry_changed',
      'api_key.rotated',
      'api_key.revoked',
    ]);
    for (const e of events) expect(e).toMatchObject({ ...byAdmin(t), targetType: 'api_key', targetId: id });
    expect(events[1]!.summary).toContain('"deploy bot"');
    expect(events[5]!.summary).toContain(`kp_…${regenerateApiKey.apiKey.hint.slice(-4)}`);
    expect(events[6]!.summary).toContain('REVOKED_BY_OWNER');
  });

  it("a change made over graphql-ws records the upgrade request's address and user agent", async () => {
    const t = await team();
    const { generateApiKey } = await ok(call(Generate, { input: { name: 'over ws' } }, t.apiKey));
    const since = new Date();
    const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws', { headers: { 'user-agent': 'ws-client/2.0' } });
    const messages: { type: string; payload?: unknown }[] = [];
    const next = (type: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type}: ${JSON.stringify(messages)}`)), 5_000);
        socket.on('message', () => {
          if (messages.some((m) => m.type === type)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    socket.on('message', (data) => messages.push(JSON.parse(data.toString())));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { 'x-api-key': t.apiKey } }));
    await next('connection_ack');
    socket.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: {
          query: 'mutation ($id: ID!) { renameApiKey(id: $id, name: "renamed over ws") { id } }',
          variables: { id: generateApiKey.apiKey.id },
        },
      }),
    );
    await next('complete');
    socket.close();
    const [renamed] = await eventsOf(t.teamId, since);
    expect(renamed).toMatchObject({ action: 'api_key.renamed', actorType: 'USER', userAgent: 'ws-client/2.0', address: '127.0.0.1' });
  });

  it('a rotation with an overlap says until when the previous secret works', async () => {
    const t = await team();
    const { generateApiKey } = await ok(call(Generate, { input: { name: 'ci' } }, t.apiKey));
    const since = new Date();
    const { regenerateApiKey } = await ok(call(RegenerateWithOverlap, { id: generateApiKey.apiKey.id, minutes: 60 }, t.apiKey));
    const [rotated] = await eventsOf(t.teamId, since);
    expect(rotated).toMatchObject({ ...byAdmin(t), action: 'api_key.rotated', targetId: generateApiKey.apiKey.id });
    expect(rotated!.summary).toContain(`the previous secret works until ${regenerateApiKey.apiKey.previousSecretExpiresAt}`);
  });

  it('collections: created, updated, shared, access key revoked, deleted (with its access keys)', async () => {
    const t = await team();
    const since = new Date();
    const { createCollection } = await ok(call(CreateCollection, { input: { name: 'Payments' } }, t.apiKey));
    const cid = createCollection.id;
    await ok(call(UpdateCollection, { id: cid, input: { name: 'Payments v2' } }, t.apiKey));
    const first = await ok(call(Share, { id: cid }, t.apiKey));
    const second = await ok(call(Share, { id: cid }, t.apiKey));
    await ok(call(RevokeAccess, { id: first.shareCollection.accessKey.id }, t.apiKey));
    await ok(call(DeleteCollection, { id: cid }, t.apiKey));

    const events = await eventsOf(t.teamId, since);
    expect(events.map((e) => [e.action, e.targetId])).toEqual([
      ['collection.created', cid],
      ['collection.updated', cid],
      ['collection.shared', cid],
      ['collection.shared', cid],
      ['access_key.revoked', first.shareCollection.accessKey.id],
      ['collection.deleted', cid],
      ['access_key.revoked', second.shareCollection.accessKey.id],
    ]);
    for (const e of events) expect(e).toMatchObject(byAdmin(t));
    expect(events.at(-1)!.summary).toContain('COLLECTION_DELETED');
  });

  it('members: invited by the admin; joined (and the first key) by the new member, without a key', async () => {
    const t = await team();
    const since = new Date();
    const { inviteTeamMember } = await ok(call(Invite, { email: `new-${Date.now()}@example.com`, name: 'Nia' }, t.apiKey));
    const { acceptInvitation } = await ok(call(Accept, { token: inviteTeamMember.token, keyName: 'laptop' }, null));
    const member = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: acceptInvitation.apiKey.id } });

    const events = await eventsOf(t.teamId, since);
    expect(events.map((e) => e.action)).toEqual(['member.invited', 'member.joined', 'api_key.created']);
    expect(events[0]).toMatchObject({ ...byAdmin(t), targetType: 'invitation', targetId: inviteTeamMember.id });
    const asMember = { actorType: 'USER', actorId: member.createdById, actorKeyHint: null, address: '127.0.0.1', userAgent: UA };
    expect(events[1]).toMatchObject({ ...asMember, targetType: 'user', targetId: member.createdById });
    expect(events[2]).toMatchObject({ ...asMember, targetType: 'api_key', targetId: member.id });
  });

  it('settings: settings.updated, and one api_key.expiry_changed per key whose expiry moved', async () => {
    const t = await team();
    const alice = await addUser(server, t.teamId);
    const since = new Date();
    const { updateApiKeySettings } = await ok(call(UpdateSettings, { input: { keyExpiryDays: 30 } }, t.apiKey));
    expect(updateApiKeySettings.updatedKeyCount).toBe(2);
    await ok(call(UpdateSettings, { input: { keyExpiryDays: 30 } }, t.apiKey)); // nothing changed

    const events = await eventsOf(t.teamId, since);
    expect(events.map((e) => e.action).sort()).toEqual(['api_key.expiry_changed', 'api_key.expiry_changed', 'settings.updated']);
    for (const e of events) expect(e).toMatchObject(byAdmin(t));
    expect(events.find((e) => e.action === 'settings.updated')!.summary).toContain('keyExpiryDays null → 30');
    expect(events.filter((e) => e.action === 'api_key.expiry_changed').map((e) => e.targetId)).toContain(alice.apiKey.id);
  });

  it('a bulk revocation writes one event per key (REVOKED_BY_ADMIN), in one statement', async () => {
    const t = await team();
    const members = await Promise.all(Array.from({ length: 5 }, () => addUser(server, t.teamId)));
    const since = new Date();
    await ok(call(RevokeSome, { ids: members.slice(0, 3).map((m) => m.apiKey.id) }, t.apiKey));
    await ok(call(RevokeAll, {}, t.apiKey));
    const events = await eventsOf(t.teamId, since);
    expect(events).toHaveLength(5);
    expect(new Set(events.map((e) => e.targetId))).toEqual(new Set(members.map((m) => m.apiKey.id)));
    for (const e of events) {
      expect(e).toMatchObject({ ...byAdmin(t), action: 'api_key.revoked' });
      expect(e.summary).toContain('REVOKED_BY_ADMIN');
    }
    // The first three share one statement's timestamp.
    expect(new Set(events.slice(0, 3).map((e) => e.at.getTime())).size).toBe(1);
  });

  it('exposures: reported by an admin (USER) or by the GitHub intake (SCANNER), with auto revoke', async () => {
    const t = await team();
    await ok(call(UpdateSettings, { input: { autoRevokeExposedKeys: true } }, t.apiKey));
    const leaked = await addUser(server, t.teamId);
    const since = new Date();
    await ok(call(Report, { text: `config: ${leaked.key}`, location: 'https://paste.example/1' }, t.apiKey));
    // Both in one transaction, at one timestamp: their order is the ids'.
    let events = await eventsOf(t.teamId, since);
    expect(events.map((e) => e.action).sort()).toEqual(['api_key.revoked', 'exposure.reported']);
    for (const e of events) expect(e).toMatchObject({ ...byAdmin(t), targetId: leaked.apiKey.id });
    expect(events.find((e) => e.action === 'api_key.revoked')!.summary).toContain('EXPOSED');
    expect(events.find((e) => e.action === 'exposure.reported')!.summary).toContain('https://paste.example/1');

    const other = await addUser(server, t.teamId);
    const since2 = new Date();
    const body = JSON.stringify([
      { token: other.key, type: 'keyplane_api_key', url: 'https://github.com/o/r/blob/main/x', source: 'content' },
    ]);
    const res = await fetch(server.url.replace(/\/graphql$/, '/scanner/github'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/1',
        'github-public-key-identifier': 'k1',
        'github-public-key-signature': sign('sha256', Buffer.from(body), { key: GITHUB.privateKey, dsaEncoding: 'der' }).toString('base64'),
      },
      body,
    });
    expect(res.status).toBe(200);
    events = await eventsOf(t.teamId, since2);
    expect(events.map((e) => e.action).sort()).toEqual(['api_key.revoked', 'exposure.reported']);
    for (const e of events) {
      expect(e).toMatchObject({
        actorType: 'SCANNER',
        actorId: null,
        actorKeyHint: null,
        address: '127.0.0.1',
        userAgent: 'GitHub-Hookshot/1',
      });
    }
  });

  it('the expiry job is SYSTEM (reason EXPIRED)', async () => {
    const t = await team();
    const doomed = await addUser(server, t.teamId);
    await server.services.prisma.apiKey.update({ where: { id: doomed.apiKey.id }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    const since = new Date();
    await server.services.expiryJob.run();
    const events = await eventsOf(t.teamId, since);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'api_key.revoked', actorType: 'SYSTEM', actorId: null, targetId: doomed.apiKey.id });
    expect(events[0]!.summary).toContain('EXPIRED');
  });
});

describe('a refused change writes nothing', () => {
  it('FORBIDDEN, BAD_USER_INPUT, NOT_FOUND and PLAN_REQUIRED leave the trail as it was', async () => {
    const t = await team();
    const member = await addUser(server, t.teamId);
    const other = await addUser(server, t.teamId);
    const since = new Date();
    const refusals = [
      call(Rename, { id: member.apiKey.id, name: 'bad\u0000name' }, member.key),
      call(Rename, { id: member.apiKey.id, name: 'x' }, t.apiKey), // admin may not rename another's key
      call(SetEnabled, { id: other.apiKey.id, enabled: false }, member.key), // not visible: NOT_FOUND
      call(SetExpiry, { id: member.apiKey.id, at: new Date(Date.now() - 60_000).toISOString() }, member.key),
      call(Invite, { email: 'x@example.com', name: 'X' }, member.key),
      call(UpdateSettings, { input: { keyExpiryDays: 0 } }, t.apiKey),
      call(RevokeSome, { ids: [member.apiKey.id, 'no-such-key'] }, t.apiKey),
      call(CreateCollection, { input: { name: 'c', requests: [{ name: 'r', method: 'GET', url: 'javascript:alert(1)' }] } }, t.apiKey),
    ];
    const results = await Promise.all(refusals);
    expect(results.map((r) => codes(r)[0])).toEqual([
      'BAD_USER_INPUT',
      'FORBIDDEN',
      'NOT_FOUND',
      'BAD_USER_INPUT',
      'FORBIDDEN',
      'BAD_USER_INPUT',
      'NOT_FOUND',
      'BAD_USER_INPUT',
    ]);
    expect(await eventsOf(t.teamId, since)).toEqual([]);
    // The bulk revocation was all or nothing: the member's key is still live.
    expect((await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: member.apiKey.id } })).status).toBe('ENABLED');
  });
});

describe('auditEvents', () => {
  it('admins on ENTERPRISE only: members FORBIDDEN, FREE admins PLAN_REQUIRED', async () => {
    const t = await team();
    const member = await addUser(server, t.teamId);
    const free = await team('FREE');
    expect(codes(await call(Events, {}, member.key))).toEqual(['FORBIDDEN']);
    expect(codes(await call(Events, {}, free.apiKey))).toEqual(['PLAN_REQUIRED']);
    expect(codes(await call(Events, {}, null))).toEqual(['UNAUTHENTICATED']);
  });

  it('newest first in keyset pages (ties on the timestamp broken by id), with the actor', async () => {
    const t = await team();
    const members = await Promise.all(Array.from({ length: 6 }, () => addUser(server, t.teamId)));
    await ok(call(RevokeSome, { ids: members.map((m) => m.apiKey.id) }, t.apiKey)); // six events, one timestamp
    const all = await eventsOf(t.teamId);
    const expected = [...all].reverse().map((e) => e.id);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const {
        auditEvents,
      }: { auditEvents: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor?: string | null } } } = await ok(
        call(Events, { first: 4, after }, t.apiKey),
      );
      seen.push(...auditEvents.edges.map((e) => e.node.id));
      if (!auditEvents.pageInfo.hasNextPage) break;
      after = auditEvents.pageInfo.endCursor ?? null;
    }
    expect(seen).toEqual(expected);
    const { auditEvents } = await ok(call(Events, { first: 1 }, t.apiKey));
    expect(auditEvents.edges[0]!.node).toMatchObject({ action: 'api_key.revoked', actorType: 'USER', actor: { id: t.admin.id } });
  });

  it('filters by actions, actor, target and time range', async () => {
    const t = await team();
    const alice = await addUser(server, t.teamId, 'TEAM_ADMIN');
    const start = new Date();
    const { createCollection } = await ok(call(CreateCollection, { input: { name: 'F' } }, alice.key));
    await ok(call(Rename, { id: alice.apiKey.id, name: 'renamed' }, alice.key));
    await ok(call(Generate, { input: { name: 'x' } }, t.apiKey));
    const nodes = async (filter: object) =>
      (await ok(call(Events, { filter }, t.apiKey))).auditEvents.edges.map((e) => [e.node.action, e.node.actor?.id ?? null]);

    expect(await nodes({ actions: ['collection.created', 'api_key.renamed'] })).toEqual([
      ['api_key.renamed', alice.user.id],
      ['collection.created', alice.user.id],
    ]);
    expect(await nodes({ actorId: alice.user.id })).toEqual([
      ['api_key.renamed', alice.user.id],
      ['collection.created', alice.user.id],
    ]);
    expect(await nodes({ targetId: createCollection.id })).toEqual([['collection.created', alice.user.id]]);
    expect(await nodes({ from: start.toISOString(), actions: ['api_key.created'] })).toEqual([['api_key.created', t.admin.id]]);
    expect(await nodes({ to: start.toISOString() })).toEqual([
      ['api_key.created', null], // alice's key, made by the test set-up (SYSTEM)
      ['api_key.created', null], // the bootstrap key
    ]);
    expect(codes(await call(Events, { filter: { actions: ['api_key.exploded'] } }, t.apiKey))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await call(Events, { after: 'bm90IGEgY3Vyc29y' }, t.apiKey))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await call(Events, { first: 501 }, t.apiKey))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await call(Events, { filter: { targetId: 'a\u0000b' } }, t.apiKey))).toEqual(['BAD_USER_INPUT']);
    // Dates the DateTime scalar takes but the database cannot hold (year 0, past 9999 once in UTC),
    // and a reversed range: coded field errors, not a masked INTERNAL_SERVER_ERROR.
    for (const filter of [
      { from: '0000-01-01T00:00:00Z' },
      { from: '0001-01-01T00:30:00+01:00' },
      { to: '9999-12-31T23:59:59-01:00' },
      { from: '2026-06-01T00:00:00Z', to: '2026-05-01T00:00:00Z' },
    ]) {
      const answer = await call(Events, { filter }, t.apiKey);
      expect(codes(answer), JSON.stringify(filter)).toEqual(['BAD_USER_INPUT']);
      expect(answer.errors![0]!.message).toMatch(/filter\.(from|to)/);
    }
    // An empty page (first: 0) leaves endCursor where the client was, so it can go on from there.
    const { auditEvents: firstPage } = await ok(call(Events, { first: 1 }, t.apiKey));
    const { auditEvents: empty } = await ok(call(Events, { first: 0, after: firstPage.pageInfo.endCursor }, t.apiKey));
    expect(empty.edges).toEqual([]);
    expect(empty.pageInfo.endCursor).toBe(firstPage.pageInfo.endCursor);
  });

  it('shows only its own team', async () => {
    const a = await team();
    const b = await team();
    await ok(call(Generate, { input: { name: 'b only' } }, b.apiKey));
    const { auditEvents } = await ok(call(Events, { first: 500 }, a.apiKey));
    const ids = new Set((await eventsOf(a.teamId)).map((e) => e.id));
    expect(auditEvents.edges.every((e) => ids.has(e.node.id))).toBe(true);
  });
});

describe('append-only and retention', () => {
  it('the database refuses UPDATE and DELETE of events outside the retention job', async () => {
    const t = await team();
    const [event] = await eventsOf(t.teamId);
    await expect(server.services.prisma.auditEvent.update({ where: { id: event!.id }, data: { summary: 'forged' } })).rejects.toThrow(
      /append-only/,
    );
    await expect(server.services.prisma.auditEvent.delete({ where: { id: event!.id } })).rejects.toThrow(/append-only/);
    expect((await eventsOf(t.teamId))[0]!.summary).toBe(event!.summary);
  });

  it('AUDIT_RETENTION_DAYS is validated like the other variables (default 365)', () => {
    expect(loadConfig({}).auditRetentionDays).toBe(365);
    expect(loadConfig({ AUDIT_RETENTION_DAYS: '7' }).auditRetentionDays).toBe(7);
    for (const bad of ['0', '-1', '1.5', 'forever'])
      expect(() => loadConfig({ AUDIT_RETENTION_DAYS: bad })).toThrow(/AUDIT_RETENTION_DAYS/);
  });

  it('AUDIT_RETENTION_DAYS: the job purges older events in batches and keeps the rest', async () => {
    const t = await team();
    const old = new Date(Date.now() - 31 * 86_400_000);
    await server.services.prisma.$executeRawUnsafe(
      `INSERT INTO "AuditEvent" ("id", "teamId", "at", "action", "actorType", "targetType", "summary")
       SELECT 'old-' || g || '-' || $1, $1, $2::timestamptz - g * interval '1 second', 'api_key.created', 'SYSTEM', 'api_key', 'old'
         FROM generate_series(1, 25) g`,
      t.teamId,
      old,
    );
    const before = (await eventsOf(t.teamId)).length;
    expect(await server.services.auditRetention.run(new Date(), 10)).toBeGreaterThanOrEqual(25);
    const after = await eventsOf(t.teamId);
    expect(after).toHaveLength(before - 25);
    expect(after.every((e) => e.summary !== 'old')).toBe(true);
  });
});
