// SCIM API keys and the gate of /scim/v2 (issue 18 items 1-2, SPEC §5): kps_ keys are managed by
// ENTERPRISE admins apart from personal keys, authenticate /scim/v2 only (Bearer or X-API-Key),
// are refused by /graphql on every transport, and no other key opens /scim/v2. A real server over
// HTTP and graphql-ws; the keep window's end is moved with SQL (never a wait of hours).
import { hash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { generateKey, parseKey } from '../../src/keys/format.js';
import { openSse, wsCloseOf } from '../helpers/client.js';
import { addSharedCollection, addTeam, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';
import { openWsSession, settle } from '../helpers/ws-session.js';

interface Answer {
  status: number;
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

async function post(url: string, key: string, query: string, variables?: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

const codeOf = (a: Answer) => a.errors?.[0]?.extensions?.code;

interface ScimAnswer {
  status: number;
  contentType: string | null;
  headers: Headers;
  body: Record<string, any>;
}

/** A request to /scim/v2 of the server behind `graphqlUrl`. */
async function scim(graphqlUrl: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<ScimAnswer> {
  const res = await fetch(graphqlUrl.replace(/\/graphql$/, `/scim/v2${path}`), { method, headers });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), headers: res.headers, body: text ? JSON.parse(text) : {} };
}
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const config = (url: string, key: string) => scim(url, '/ServiceProviderConfig', bearer(key));

const SCIM_KEY_FIELDS =
  'id name hint status createdAt createdBy { id } lastUsedAt previousSecretExpiresAt revokedAt revocationReason revokedBy { id }';
const GENERATE = `mutation ($name: String!) { generateScimApiKey(name: $name) { secret scimApiKey { ${SCIM_KEY_FIELDS} } } }`;
const REGENERATE = `mutation ($id: ID!, $hours: Int) {
  regenerateScimApiKey(id: $id, keepPreviousForHours: $hours) { secret scimApiKey { ${SCIM_KEY_FIELDS} } }
}`;
const REVOKE = `mutation ($id: ID!) { revokeScimApiKey(id: $id) { ${SCIM_KEY_FIELDS} } }`;
const LIST = `{ scimApiKeys { ${SCIM_KEY_FIELDS} } }`;
const SETTINGS = 'mutation ($input: ApiKeySettingsInput!) { updateApiKeySettings(input: $input) { settings { scimEnabled } } }';

async function generate(url: string, key: string, name: string) {
  const res = await post(url, key, GENERATE, { name });
  if (!res.data?.generateScimApiKey) throw new Error(`generateScimApiKey: ${JSON.stringify(res.errors)}`);
  return res.data.generateScimApiKey as { secret: string; scimApiKey: { id: string; [k: string]: any } };
}

async function setScim(url: string, adminKey: string, on: boolean) {
  const res = await post(url, adminKey, SETTINGS, { input: { scimEnabled: on } });
  expect(res.data?.updateApiKeySettings.settings.scimEnabled).toBe(on);
}

/** Asks until `check` holds (a change made with SQL reaches the verification cache through NOTIFY). */
async function eventually(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

// This file refuses many keys from one address on purpose: more than the default 20 a minute.
const server = useTestServer({ AUTH_FAILURES_PER_MINUTE: '200' });

describe('SCIM API keys in the team settings', () => {
  it('generates (secret once, hash only), lists newest first, never among personal keys', async () => {
    const before = await post(server.url, server.adminKey, '{ apiKeySettings { scimEnabled } }');
    expect(before.data?.apiKeySettings.scimEnabled).toBe(false);

    const first = await generate(server.url, server.adminKey, '  Okta  ');
    const second = await generate(server.url, server.adminKey, 'Entra ID');
    const parsed = parseKey(first.secret);
    expect(parsed).toEqual({ ok: true, kind: 'SCIM', key: first.secret });
    expect(first.secret).toMatch(/^kps_[0-9A-Za-z]{36}$/);
    expect(first.scimApiKey).toMatchObject({
      name: 'Okta',
      hint: `kps_…${first.secret.slice(-4)}`,
      status: 'ENABLED',
      lastUsedAt: null,
      previousSecretExpiresAt: null,
      revokedAt: null,
      revocationReason: null,
      revokedBy: null,
    });
    // Only the hash is stored: no column holds the secret.
    const row = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: first.scimApiKey.id } });
    expect(row.kind).toBe('SCIM');
    expect(row.hash).toBe(hash('sha256', first.secret, 'hex'));
    expect(JSON.stringify(row)).not.toContain(first.secret.slice(4));

    const list = await post(server.url, server.adminKey, LIST);
    const ids = (list.data!.scimApiKeys as { id: string }[]).map((k) => k.id);
    expect(ids.slice(0, 2)).toEqual([second.scimApiKey.id, first.scimApiKey.id]);
    const own = await post(server.url, server.adminKey, '{ apiKeys { id } }');
    const team = await post(server.url, server.adminKey, '{ teamApiKeys(first: 500) { totalCount edges { node { id } } } }');
    const personal = [...own.data!.apiKeys, ...team.data!.teamApiKeys.edges.map((e: any) => e.node)].map((k: any) => k.id);
    expect(personal).not.toContain(first.scimApiKey.id);
    expect(personal).not.toContain(second.scimApiKey.id);
  });

  it('opens /scim/v2 with Bearer or X-API-Key once SCIM is on; the ServiceProviderConfig declares only what is served', async () => {
    const { secret } = await generate(server.url, server.adminKey, 'gate');
    const off = await config(server.url, secret);
    expect(off.status).toBe(403);
    expect(off.contentType).toMatch(/^application\/scim\+json/);
    expect(off.body).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '403',
      detail: expect.stringMatching(/turned off/),
    });

    await setScim(server.url, server.adminKey, true);
    const viaBearer = await config(server.url, secret);
    expect(viaBearer.status).toBe(200);
    expect(viaBearer.contentType).toMatch(/^application\/scim\+json/);
    expect(viaBearer.headers.get('x-ratelimit-limit')).toBe('600');
    expect(viaBearer.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true, maxResults: 200 },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [{ type: 'oauthbearertoken', primary: true }],
    });
    expect((await scim(server.url, '/ServiceProviderConfig', { authorization: `bearer ${secret}` })).status).toBe(200);
    expect((await scim(server.url, '/ServiceProviderConfig', { 'x-api-key': secret })).status).toBe(200);
    // An unknown resource is a SCIM 404 (Users and Groups: scim-users/scim-groups.test.ts), a write
    // to discovery a 405.
    const unknown = await scim(server.url, '/Roles', bearer(secret));
    expect(unknown.status).toBe(404);
    expect(unknown.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    expect((await scim(server.url, '/ServiceProviderConfig', bearer(secret), 'POST')).status).toBe(405);

    // lastUsedAt follows use (buffered: the buffer is written now rather than in up to 5 s).
    await server.services.lastUsed.flush();
    const listed = (await post(server.url, server.adminKey, LIST)).data!.scimApiKeys.find((k: any) => k.hint.endsWith(secret.slice(-4)));
    expect(Date.parse(listed.lastUsedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('regenerates with a keep window: both secrets work inside it, the old one fails after it', async () => {
    await setScim(server.url, server.adminKey, true);
    const { secret: old, scimApiKey } = await generate(server.url, server.adminKey, 'rotating');
    expect((await config(server.url, old)).status).toBe(200);
    const asked = Date.now();
    const res = await post(server.url, server.adminKey, REGENERATE, { id: scimApiKey.id, hours: 2 });
    const regenerated = res.data!.regenerateScimApiKey;
    expect(regenerated.secret).not.toBe(old);
    expect(regenerated.scimApiKey).toMatchObject({ id: scimApiKey.id, name: 'rotating', status: 'ENABLED' });
    const until = Date.parse(regenerated.scimApiKey.previousSecretExpiresAt);
    expect(until).toBeGreaterThanOrEqual(asked + 2 * 3_600_000 - 1_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 2 * 3_600_000 + 1_000);

    // The window's end moved to 1.5 s from now, before the old secret is used again (the
    // regeneration dropped its verification: its next use reads the row).
    await server.services.prisma.$executeRawUnsafe(
      `UPDATE "ApiKey" SET "previousSecretExpiresAt" = now() + interval '1500 milliseconds' WHERE "id" = $1`,
      scimApiKey.id,
    );
    // Inside the window: the new secret and the old one.
    expect((await config(server.url, regenerated.secret)).status).toBe(200);
    expect((await config(server.url, old)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_700));
    const after = await config(server.url, old);
    expect(after.status).toBe(401);
    expect(after.body.detail).toMatch(/regenerated/);
    // Also when its verification is no longer cached (dropped by a change, or aged out): the row
    // still holds the old secret's hash, so it is told apart from an unknown key.
    server.services.auth.forgetAll();
    const uncached = await config(server.url, old);
    expect(uncached.status).toBe(401);
    expect(uncached.body.detail).toMatch(/regenerated: this secret stopped working at/);
    expect((await config(server.url, regenerated.secret)).status).toBe(200);
    const listed = (await post(server.url, server.adminKey, LIST)).data!.scimApiKeys.find((k: any) => k.id === scimApiKey.id);
    expect(listed.previousSecretExpiresAt).toBeNull();

    // keep 0: the old secret fails at once.
    const again = (await post(server.url, server.adminKey, REGENERATE, { id: scimApiKey.id })).data!.regenerateScimApiKey;
    expect(again.scimApiKey.previousSecretExpiresAt).toBeNull();
    expect((await config(server.url, regenerated.secret)).status).toBe(401);
    expect((await config(server.url, again.secret)).status).toBe(200);
  });

  it('revokes through the one revocation path: both secrets fail, the creator is notified, admins hear apiKeyRevoked', async () => {
    await setScim(server.url, server.adminKey, true);
    const { secret: old, scimApiKey } = await generate(server.url, server.adminKey, 'to revoke');
    const current = (await post(server.url, server.adminKey, REGENERATE, { id: scimApiKey.id, hours: 1 })).data!.regenerateScimApiKey
      .secret as string;
    const teamAdmin = await addUser(server, server.teamId, 'TEAM_ADMIN');
    const ws = await openWsSession(server.url, teamAdmin.key);
    try {
      ws.subscribe(
        'r',
        'subscription { apiKeyRevoked { apiKey { id } accessKey { id } scimApiKey { id status } reason revokedBy { id } } }',
      );
      await settle();
      const res = await post(server.url, server.adminKey, REVOKE, { id: scimApiKey.id });
      expect(res.data?.revokeScimApiKey).toMatchObject({ id: scimApiKey.id, status: 'REVOKED', revocationReason: 'REVOKED_BY_ADMIN' });
      expect(res.data?.revokeScimApiKey.revokedBy).not.toBeNull();
      // Both secrets fail from the answer on.
      expect((await config(server.url, current)).status).toBe(401);
      expect((await config(server.url, old)).status).toBe(401);
      const [event] = await ws.nexts<{ data: { apiKeyRevoked: any } }>('r', 1);
      expect(event!.data.apiKeyRevoked).toMatchObject({
        apiKey: null,
        accessKey: null,
        scimApiKey: { id: scimApiKey.id, status: 'REVOKED' },
        reason: 'REVOKED_BY_ADMIN',
      });
    } finally {
      ws.close();
    }
    const notes = await post(
      server.url,
      server.adminKey,
      '{ notifications(first: 5) { edges { node { kind message apiKey { id } accessKey { id } scimApiKey { id } } } } }',
    );
    const note = notes.data!.notifications.edges.map((e: any) => e.node).find((n: any) => n.scimApiKey?.id === scimApiKey.id);
    expect(note).toMatchObject({ kind: 'API_KEY_REVOKED', apiKey: null, accessKey: null });
    expect(note.message).toContain('SCIM API key "to revoke"');
    const mail = await server.services.prisma.emailOutbox.findFirst({ where: { text: { contains: 'SCIM API key "to revoke"' } } });
    expect(mail).not.toBeNull();
    expect(mail!.text).not.toContain(current);

    // Revoking again leaves it as it was; a revoked key is not regenerated.
    const twice = await post(server.url, server.adminKey, REVOKE, { id: scimApiKey.id });
    expect(twice.data?.revokeScimApiKey.status).toBe('REVOKED');
    expect(codeOf(await post(server.url, server.adminKey, REGENERATE, { id: scimApiKey.id }))).toBe('BAD_USER_INPUT');
  });

  it('audits each change (scim_key.created, rotated, revoked) with the acting admin and no secret', async () => {
    const { secret, scimApiKey } = await generate(server.url, server.adminKey, 'audited');
    const rotated = (await post(server.url, server.adminKey, REGENERATE, { id: scimApiKey.id, hours: 3 })).data!.regenerateScimApiKey;
    await post(server.url, server.adminKey, REVOKE, { id: scimApiKey.id });
    const res = await post(
      server.url,
      server.adminKey,
      `query ($id: String!) { auditEvents(filter: { targetId: $id }) { edges { node { action actorType actorKeyHint targetType summary } } } }`,
      { id: scimApiKey.id },
    );
    const events = (res.data!.auditEvents.edges as { node: Record<string, string> }[]).map((e) => e.node);
    expect(events.map((e) => e.action).sort()).toEqual(['scim_key.created', 'scim_key.revoked', 'scim_key.rotated']);
    for (const e of events) {
      expect(e).toMatchObject({ actorType: 'USER', actorKeyHint: `kp_…${server.adminKey.slice(-4)}`, targetType: 'scim_key' });
      expect(e.summary).not.toContain(secret.slice(4));
      expect(e.summary).not.toContain(rotated.secret.slice(4));
    }
    expect(events.find((e) => e.action === 'scim_key.rotated')!.summary).toMatch(/previous secret works until/);
  });

  it('is for admins (MEMBER: FORBIDDEN) of ENTERPRISE teams (FREE: PLAN_REQUIRED)', async () => {
    const { scimApiKey } = await generate(server.url, server.adminKey, 'roles');
    const member = await addUser(server, server.teamId, 'MEMBER');
    const teamAdmin = await addUser(server, server.teamId, 'TEAM_ADMIN');
    for (const [query, variables] of [
      [LIST, {}],
      [GENERATE, { name: 'x' }],
      [REGENERATE, { id: scimApiKey.id, hours: 1 }],
      [REVOKE, { id: scimApiKey.id }],
      [SETTINGS, { input: { scimEnabled: true } }],
    ] as const) {
      expect(codeOf(await post(server.url, member.key, query, variables))).toBe('FORBIDDEN');
    }
    // A TEAM_ADMIN manages them as a SUPER_ADMIN does.
    const byTeamAdmin = await generate(server.url, teamAdmin.key, 'by team admin');
    expect(byTeamAdmin.scimApiKey.createdBy.id).toBe(teamAdmin.user.id);

    const free = await addTeam(server, 'FREE');
    expect(codeOf(await post(server.url, free.apiKey, GENERATE, { name: 'x' }))).toBe('PLAN_REQUIRED');
    expect(codeOf(await post(server.url, free.apiKey, LIST))).toBe('PLAN_REQUIRED');
    const freeMember = await addUser(server, free.teamId, 'MEMBER');
    // role before plan (SPEC §4's order)
    expect(codeOf(await post(server.url, freeMember.key, GENERATE, { name: 'x' }))).toBe('FORBIDDEN');
  });

  it('validates input: names as other names, keepPreviousForHours 0..168', async () => {
    for (const name of ['a\u0000b', 'evil\u202Eexe', 'tab\tname', '   ', 'x'.repeat(101)]) {
      const res = await post(server.url, server.adminKey, GENERATE, { name });
      expect(codeOf(res), JSON.stringify(name)).toBe('BAD_USER_INPUT');
    }
    const { scimApiKey } = await generate(server.url, server.adminKey, 'n'.repeat(100));
    for (const hours of [-1, 169]) {
      const res = await post(server.url, server.adminKey, REGENERATE, { id: scimApiKey.id, hours });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.extensions?.field).toBe('keepPreviousForHours');
    }
    const max = await post(server.url, server.adminKey, REGENERATE, { id: scimApiKey.id, hours: 168 });
    expect(max.data?.regenerateScimApiKey.scimApiKey.previousSecretExpiresAt).not.toBeNull();
    // existence before input: an unknown id with a bad window is NOT_FOUND
    expect(codeOf(await post(server.url, server.adminKey, REGENERATE, { id: 'nope', hours: 500 }))).toBe('NOT_FOUND');
  });

  it('answers NOT_FOUND to every personal-key field for a SCIM key id; revokeAllApiKeys leaves SCIM keys', async () => {
    const other = await addTeam(server);
    const { secret, scimApiKey } = await generate(server.url, other.apiKey, 'not personal');
    const id = scimApiKey.id;
    const apiKey = await post(server.url, other.apiKey, 'query ($id: ID!) { apiKey(id: $id) { id } }', { id });
    expect(apiKey.data?.apiKey).toBeNull();
    expect(codeOf(apiKey)).toBe('NOT_FOUND');
    for (const [query, variables] of [
      ['mutation ($id: ID!) { setApiKeyEnabled(id: $id, enabled: false) { id } }', { id }],
      ['mutation ($id: ID!) { revokeApiKeys(ids: [$id]) { revokedCount } }', { id }],
      ['mutation ($id: ID!) { renameApiKey(id: $id, name: "x") { id } }', { id }],
      ['mutation ($id: ID!) { regenerateApiKey(id: $id) { secret } }', { id }],
      ['mutation ($id: ID!) { deleteApiKey(id: $id) { id } }', { id }],
      ['mutation ($id: ID!) { setApiKeyExpiry(id: $id, expiresAt: null) { id } }', { id }],
    ] as const) {
      expect(codeOf(await post(server.url, other.apiKey, query, variables)), query).toBe('NOT_FOUND');
    }
    const all = await post(server.url, other.apiKey, 'mutation { revokeAllApiKeys { revokedCount } }');
    expect(all.errors).toBeUndefined();
    const row = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id } });
    expect(row.status).toBe('ENABLED');
    await setScim(server.url, other.apiKey, true);
    expect((await config(server.url, secret)).status).toBe(200);
  });

  it("answers NOT_FOUND for another team's SCIM key ids, and lists only the team's own", async () => {
    const { scimApiKey } = await generate(server.url, server.adminKey, 'ours');
    const other = await addTeam(server);
    await generate(server.url, other.apiKey, 'theirs');
    expect(codeOf(await post(server.url, other.apiKey, REGENERATE, { id: scimApiKey.id, hours: 1 }))).toBe('NOT_FOUND');
    expect(codeOf(await post(server.url, other.apiKey, REVOKE, { id: scimApiKey.id }))).toBe('NOT_FOUND');
    const theirs = (await post(server.url, other.apiKey, LIST)).data!.scimApiKeys as { id: string; name: string }[];
    expect(theirs.map((k) => k.name)).toEqual(['theirs']);
    // and the key is untouched
    const row = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: scimApiKey.id } });
    expect(row.status).toBe('ENABLED');
  });
});

describe('the gate of /scim/v2', () => {
  it('refuses a kps_ key on /graphql: HTTP 401, SSE 401, graphql-ws 4401', async () => {
    const { secret } = await generate(server.url, server.adminKey, 'not for graphql');
    const http = await post(server.url, secret, '{ viewer { keyKind } }');
    expect(http.status).toBe(401);
    expect(codeOf(http)).toBe('UNAUTHENTICATED');
    // and an introspection-only request with it: a key that is sent must be valid
    expect((await post(server.url, secret, '{ __typename }')).status).toBe(401);
    const sse = await openSse(server.url, secret, 'subscription { apiKeyRevoked { reason } }');
    expect(sse.response.status).toBe(401);
    sse.close();
    const ws = await wsCloseOf(server.url, { 'x-api-key': secret });
    expect(ws.code).toBe(4401);
    expect(ws.reason).toMatch(/SCIM/);
  });

  it('refuses kp_ and kpc_ keys, no key and a malformed one (401, RFC 7644 error body, Bearer challenge)', async () => {
    await setScim(server.url, server.adminKey, true);
    const { accessKey } = await addSharedCollection(server, server.adminKey, 'scim gate collection');
    const attempts: Record<string, string>[] = [
      bearer(server.adminKey),
      { 'x-api-key': server.adminKey },
      bearer(accessKey),
      { 'x-api-key': accessKey },
      {},
      bearer('kps_nonsense'),
      { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
    ];
    for (const headers of attempts) {
      const res = await scim(server.url, '/ServiceProviderConfig', headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.contentType).toMatch(/^application\/scim\+json/);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(res.body).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '401', detail: expect.any(String) });
    }
    // A well-formed kps_ key that does not exist: 401 as well.
    expect((await config(server.url, generateKey('SCIM'))).status).toBe(401);
  });

  it('answers 403 for a FREE team (even with SCIM on and a key)', async () => {
    const other = await addTeam(server);
    const { secret } = await generate(server.url, other.apiKey, 'plan');
    await setScim(server.url, other.apiKey, true);
    expect((await config(server.url, secret)).status).toBe(200);
    // A plan change made elsewhere (SQL here) reaches the gate through the Team trigger's NOTIFY.
    await server.services.prisma.team.update({ where: { id: other.teamId }, data: { plan: 'FREE' } });
    expect(await eventually(async () => (await config(server.url, secret)).status === 403)).toBe(true);
    const res = await config(server.url, secret);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ status: '403', detail: expect.stringMatching(/ENTERPRISE/) });
    await server.services.prisma.team.update({ where: { id: other.teamId }, data: { plan: 'ENTERPRISE' } });
    expect(await eventually(async () => (await config(server.url, secret)).status === 200)).toBe(true);
    // SCIM turned off by the mutation: 403 from its answer on (no wait).
    await setScim(server.url, other.apiKey, false);
    expect((await config(server.url, secret)).status).toBe(403);
  });
});

describe('the scanner and SCIM keys', () => {
  it('recognises kps_: the exposure carries scimApiKey; auto revoke revokes it (EXPOSED) and tells the admins', async () => {
    const other = await addTeam(server);
    const { secret, scimApiKey } = await generate(server.url, other.apiKey, 'leaked');
    await setScim(server.url, other.apiKey, true);
    const report = `mutation ($text: String!) {
      reportExposedApiKeys(text: $text, location: "https://example.com/leak") { apiKey { id } accessKey { id } scimApiKey { id name } resolved }
    }`;
    const found = await post(server.url, other.apiKey, report, { text: `SCIM_TOKEN=${secret}\n` });
    expect(found.data?.reportExposedApiKeys).toEqual([
      { apiKey: null, accessKey: null, scimApiKey: { id: scimApiKey.id, name: 'leaked' }, resolved: false },
    ]);

    const listed = await post(server.url, other.apiKey, '{ exposedApiKeys { scimApiKey { id } } }');
    expect(listed.data?.exposedApiKeys).toEqual([{ scimApiKey: { id: scimApiKey.id } }]);
    // A secret found in public gets no keep window.
    const kept = await post(server.url, other.apiKey, REGENERATE, { id: scimApiKey.id, hours: 1 });
    expect(codeOf(kept)).toBe('BAD_USER_INPUT');
    expect(kept.errors?.[0]?.extensions?.field).toBe('keepPreviousForHours');
    const ws = await openWsSession(server.url, other.apiKey);
    try {
      ws.subscribe('r', 'subscription { apiKeyRevoked { apiKey { id } scimApiKey { id } reason } }');
      await settle();
      const on = await post(server.url, other.apiKey, SETTINGS.replace('scimEnabled }', 'scimEnabled autoRevokeExposedKeys }'), {
        input: { autoRevokeExposedKeys: true, exposedKeysAction: 'REVOKE' },
      });
      expect(on.data?.updateApiKeySettings.settings.autoRevokeExposedKeys).toBe(true);
      const [event] = await ws.nexts<{ data: { apiKeyRevoked: any } }>('r', 1);
      expect(event!.data.apiKeyRevoked).toEqual({ apiKey: null, scimApiKey: { id: scimApiKey.id }, reason: 'EXPOSED' });
    } finally {
      ws.close();
    }
    expect((await config(server.url, secret)).status).toBe(401);
  });
});

describe('members: active, externalId, teamMembers(includeInactive)', () => {
  it('lists inactive and deleted members only with includeInactive; their keys stop authenticating', async () => {
    const kept = await addUser(server, server.teamId);
    const deactivated = await addUser(server, server.teamId);
    const deleted = await addUser(server, server.teamId);
    // Used once, so that each key's verification is cached: the change must reach the cache.
    for (const m of [kept, deactivated, deleted]) expect((await post(server.url, m.key, '{ viewer { keyKind } }')).status).toBe(200);
    const prisma = server.services.prisma;
    await prisma.$executeRawUnsafe(`UPDATE "User" SET "active" = false, "externalId" = 'okta-123' WHERE "id" = $1`, deactivated.user.id);
    await prisma.$executeRawUnsafe(`UPDATE "User" SET "deletedAt" = now() WHERE "id" = $1`, deleted.user.id);

    const members = 'query ($all: Boolean) { teamMembers(includeInactive: $all, first: 500) { id active externalId } }';
    const active = (await post(server.url, server.adminKey, members)).data!.teamMembers as { id: string }[];
    expect(active.map((m) => m.id)).toContain(kept.user.id);
    expect(active.map((m) => m.id)).not.toContain(deactivated.user.id);
    expect(active.map((m) => m.id)).not.toContain(deleted.user.id);
    const all = (await post(server.url, server.adminKey, members, { all: true })).data!.teamMembers as any[];
    const byId = new Map(all.map((m) => [m.id, m]));
    expect(byId.get(kept.user.id)).toEqual({ id: kept.user.id, active: true, externalId: null });
    expect(byId.get(deactivated.user.id)).toEqual({ id: deactivated.user.id, active: false, externalId: 'okta-123' });
    expect(byId.get(deleted.user.id)).toEqual({ id: deleted.user.id, active: false, externalId: null });

    const refused = async (key: string) => (await post(server.url, key, '{ viewer { keyKind } }')).status === 401;
    expect(await eventually(() => refused(deactivated.key))).toBe(true);
    expect(await eventually(() => refused(deleted.key))).toBe(true);
    expect(await refused(kept.key)).toBe(false);
    const ws = await wsCloseOf(server.url, { 'x-api-key': deactivated.key });
    expect(ws.code).toBe(4401);
    // Reactivated: its keys work again (SCIM deprovisioning, a later slice, revokes them instead).
    await prisma.$executeRawUnsafe(`UPDATE "User" SET "active" = true WHERE "id" = $1`, deactivated.user.id);
    expect(await eventually(async () => !(await refused(deactivated.key)))).toBe(true);
  });
});

describe('SCIM_RATE_LIMIT_PER_MINUTE', () => {
  const limited = useTestServer({ SCIM_RATE_LIMIT_PER_MINUTE: '3' });

  it('limits each SCIM key on its own: 429 with Retry-After and an RFC 7644 body', async () => {
    await setScim(limited.url, limited.adminKey, true);
    const a = await generate(limited.url, limited.adminKey, 'a');
    const b = await generate(limited.url, limited.adminKey, 'b');
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await config(limited.url, a.secret);
      expect(res.status).toBe(200);
      remaining.push(res.headers.get('x-ratelimit-remaining')!);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const over = await config(limited.url, a.secret);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(over.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '429' });
    expect((await config(limited.url, b.secret)).status).toBe(200);
    // GraphQL's own limit (RATE_LIMIT_PER_MINUTE) is untouched by SCIM traffic.
    expect((await post(limited.url, limited.adminKey, '{ viewer { keyKind } }')).status).toBe(200);
  });

  it('is validated at start like every variable', () => {
    expect(() => loadConfig({ SCIM_RATE_LIMIT_PER_MINUTE: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ SCIM_RATE_LIMIT_PER_MINUTE: 'lots' })).toThrow(/SCIM_RATE_LIMIT_PER_MINUTE/);
    expect(loadConfig({}).scimRateLimitPerWindow).toBe(600);
  });
});
