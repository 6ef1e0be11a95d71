// /scim/v2/Users (issue 18 item 3-4, SPEC §5) over HTTP against a real server, through the gate
// with `Authorization: Bearer kps_…`: the exchanges Okta and Entra document, filters (cross-checked
// with scim2-parse-filter's own in-memory evaluator on the listed representations), paging,
// uniqueness, SUPER_ADMIN's immutability, and deprovisioning end to end (keys, socket, notices,
// audit), tombstones and their revival.
import { parse as parseFilter, filter as scimFilter } from 'scim2-parse-filter';
import { beforeAll, describe, expect, it } from 'vitest';
import { addKey, addTeam, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';
import { openWsSession, settle } from '../helpers/ws-session.js';

const server = useTestServer();

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

async function gqlPost(key: string, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] }) };
}

let scimKey = '';
let scimHint = '';

interface ScimAnswer {
  status: number;
  contentType: string | null;
  location: string | null;
  body: any;
}

async function scim(method: string, path: string, body?: unknown, contentType = 'application/scim+json'): Promise<ScimAnswer> {
  const res = await fetch(server.url.replace(/\/graphql$/, `/scim/v2${path}`), {
    method,
    headers: { authorization: `Bearer ${scimKey}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    location: res.headers.get('location'),
    body: text ? JSON.parse(text) : null,
  };
}

const list = (query: Record<string, string | number>) =>
  scim('GET', `/Users?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))}`);
const patchOf = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

let counter = 0;
function newUser(extra: Record<string, unknown> = {}) {
  counter += 1;
  const email = `scim${counter}-${Date.now()}@corp.example`;
  return {
    schemas: [USER_SCHEMA],
    userName: email,
    name: { givenName: `Given${counter}`, familyName: `Family${counter}` },
    emails: [{ primary: true, value: email, type: 'work' }],
    displayName: `Given${counter} Family${counter}`,
    active: true,
    ...extra,
  };
}

async function auditOf(targetId: string) {
  return server.services.prisma.auditEvent.findMany({ where: { targetId }, orderBy: [{ at: 'asc' }, { id: 'asc' }] });
}

const statusOnGraphql = async (key: string) => (await gqlPost(key, '{ viewer { id } }')).status;

beforeAll(async () => {
  const settings = await gqlPost(
    server.adminKey,
    'mutation { updateApiKeySettings(input: { scimEnabled: true }) { settings { scimEnabled } } }',
  );
  expect(settings.data?.updateApiKeySettings.settings.scimEnabled).toBe(true);
  const generated = await gqlPost(server.adminKey, 'mutation { generateScimApiKey(name: "IdP") { secret scimApiKey { hint } } }');
  scimKey = generated.data.generateScimApiKey.secret;
  scimHint = generated.data.generateScimApiKey.scimApiKey.hint;
});

describe('SCIM discovery', () => {
  it('declares what is served: PATCH, filters up to 200, the User resource type and its schema (Groups: scim-groups.test.ts)', async () => {
    const config = await scim('GET', '/ServiceProviderConfig');
    expect(config.status).toBe(200);
    expect(config.body).toMatchObject({
      patch: { supported: true },
      filter: { supported: true, maxResults: 200 },
      bulk: { supported: false },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
    });
    const types = await scim('GET', '/ResourceTypes');
    expect(types.body.totalResults).toBe(2);
    expect(types.body.Resources[0]).toMatchObject({ id: 'User', endpoint: '/Users', schema: USER_SCHEMA });
    expect((await scim('GET', '/ResourceTypes/User')).body.name).toBe('User');
    const schemas = await scim('GET', '/Schemas');
    expect(schemas.body.Resources.map((s: any) => s.id)).toEqual([USER_SCHEMA, 'urn:ietf:params:scim:schemas:core:2.0:Group']);
    const names = schemas.body.Resources[0].attributes.map((a: any) => a.name);
    expect(names).toEqual(['userName', 'name', 'displayName', 'emails', 'active', 'externalId']);
    expect((await scim('GET', `/Schemas/${USER_SCHEMA}`)).body.id).toBe(USER_SCHEMA);
  });
});

describe('Okta and Entra exchanges', () => {
  it('Okta: probe, create, read, replace, deactivate', async () => {
    const user = newUser({ externalId: '00u1okta' });
    const probe = await list({ filter: `userName eq "${user.userName}"`, startIndex: 1, count: 100 });
    expect(probe.status).toBe(200);
    expect(probe.contentType).toMatch(/^application\/scim\+json/);
    expect(probe.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, Resources: [] });

    const created = await scim('POST', '/Users', user);
    expect(created.status).toBe(201);
    expect(created.contentType).toMatch(/^application\/scim\+json/);
    const id = created.body.id as string;
    expect(created.body).toMatchObject({
      schemas: [USER_SCHEMA],
      userName: user.userName,
      externalId: '00u1okta',
      name: user.name,
      displayName: user.displayName,
      emails: [{ value: user.userName, primary: true, type: 'work' }],
      active: true,
      meta: { resourceType: 'User' },
    });
    expect(created.body.meta.location).toBe(server.url.replace(/\/graphql$/, `/scim/v2/Users/${id}`));
    expect(created.location).toBe(created.body.meta.location);

    const read = await scim('GET', `/Users/${id}`);
    expect(read.body).toEqual(created.body);
    expect((await list({ filter: `userName eq "${user.userName.toUpperCase()}"` })).body.totalResults).toBe(1);

    const replaced = await scim('PUT', `/Users/${id}`, {
      ...user,
      id,
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      displayName: 'Ada Lovelace',
      externalId: '00u1okta-2',
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({
      displayName: 'Ada Lovelace',
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      externalId: '00u1okta-2',
    });
    expect(Date.parse(replaced.body.meta.lastModified)).toBeGreaterThanOrEqual(Date.parse(created.body.meta.lastModified));

    const deactivated = await scim('PATCH', `/Users/${id}`, patchOf({ op: 'replace', value: { active: false } }));
    expect(deactivated.status).toBe(200);
    expect(deactivated.body.active).toBe(false);

    const events = await auditOf(id);
    expect(events.map((e) => e.action)).toEqual(['member.provisioned', 'member.updated', 'member.deprovisioned']);
    expect(events.every((e) => e.actorType === 'SCIM' && e.actorKeyHint === scimHint && e.actorId === null)).toBe(true);
  });

  it('Entra: capitalised ops, "False" as a string, paths with value filters', async () => {
    const user = newUser();
    const { body } = await scim('POST', '/Users', user, 'application/json');
    const patched = await scim(
      'PATCH',
      `/Users/${body.id}`,
      patchOf(
        { op: 'Add', path: 'externalId', value: 'entra-oid-1' },
        { op: 'Replace', path: 'name.givenName', value: 'Grace' },
        { op: 'Replace', path: 'displayName', value: 'Grace Hopper' },
      ),
    );
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      externalId: 'entra-oid-1',
      displayName: 'Grace Hopper',
      name: { givenName: 'Grace' },
      active: true,
    });

    const formatted = await scim(
      'PATCH',
      `/Users/${body.id}`,
      patchOf({ op: 'replace', path: 'name.formatted', value: 'Rear Admiral Hopper' }),
    );
    expect(formatted.body).toMatchObject({ displayName: 'Rear Admiral Hopper', name: { formatted: 'Rear Admiral Hopper' } });

    const moved = `moved-${user.userName}`;
    const email = await scim('PATCH', `/Users/${body.id}`, patchOf({ op: 'Replace', path: 'emails[type eq "work"].value', value: moved }));
    expect(email.status).toBe(200);
    expect(email.body).toMatchObject({ userName: moved, emails: [{ value: moved }] });

    const off = await scim('PATCH', `/Users/${body.id}`, patchOf({ op: 'Replace', path: 'active', value: 'False' }));
    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
    const on = await scim('PATCH', `/Users/${body.id}`, patchOf({ op: 'Replace', path: 'active', value: 'True' }));
    expect(on.body.active).toBe(true);

    // Entra's PATCH without a path: attribute paths as the value's keys.
    const noPath = await scim(
      'PATCH',
      `/Users/${body.id}`,
      patchOf({ op: 'Replace', value: { 'name.familyName': 'Hopper', displayName: 'G. Hopper' } }),
    );
    expect(noPath.status).toBe(200);
    expect(noPath.body).toMatchObject({
      name: { givenName: 'Grace', familyName: 'Hopper', formatted: 'G. Hopper' },
      displayName: 'G. Hopper',
    });

    const removed = await scim('PATCH', `/Users/${body.id}`, patchOf({ op: 'Remove', path: 'externalId' }));
    expect(removed.status).toBe(200);
    expect(removed.body.externalId).toBeUndefined();

    const bad = await scim('PATCH', `/Users/${body.id}`, patchOf({ op: 'Replace', path: 'active', value: 'maybe' }));
    expect(bad).toMatchObject({ status: 400, body: { schemas: [ERROR_SCHEMA], status: '400', scimType: 'invalidValue' } });
    const badOp = await scim('PATCH', `/Users/${body.id}`, patchOf({ op: 'Move', path: 'active', value: true }));
    expect(badOp.body.scimType).toBe('invalidValue');
    const noTarget = await scim('PATCH', `/Users/${body.id}`, patchOf({ op: 'Remove' }));
    expect(noTarget.body.scimType).toBe('noTarget');
    const notPatchOp = await scim('PATCH', `/Users/${body.id}`, { Operations: [] });
    expect(notPatchOp.status).toBe(400);
  });

  it("adopts an existing member on a userName probe: one result, the PATCH sets the member's externalId", async () => {
    const member = await addUser(server, server.teamId);
    const probe = await list({ filter: `userName eq "${member.user.email.toUpperCase()}"` });
    expect(probe.body.totalResults).toBe(1);
    expect(probe.body.Resources[0]).toMatchObject({ id: member.user.id, userName: member.user.email, displayName: member.user.name });
    const adopted = await scim('PATCH', `/Users/${member.user.id}`, patchOf({ op: 'replace', path: 'externalId', value: 'okta-adopted' }));
    expect(adopted.body.externalId).toBe('okta-adopted');
    const row = await server.services.prisma.user.findUniqueOrThrow({ where: { id: member.user.id } });
    expect(row).toMatchObject({ externalId: 'okta-adopted', active: true, role: 'MEMBER' });
    // Not a deprovisioning: the member's key still works.
    expect(await statusOnGraphql(member.key)).toBe(200);
  });

  it('refuses a second member with the same userName (any case): 409 uniqueness, on POST and on PUT', async () => {
    const first = await scim('POST', '/Users', newUser());
    const duplicate = await scim('POST', '/Users', { ...newUser(), userName: first.body.userName.toUpperCase() });
    expect(duplicate).toMatchObject({ status: 409, body: { schemas: [ERROR_SCHEMA], status: '409', scimType: 'uniqueness' } });
    // Two identity provider workers creating the same person at once: one member.
    const racer = newUser();
    const raced = await Promise.all(Array.from({ length: 4 }, () => scim('POST', '/Users', racer)));
    expect(raced.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    expect(await server.services.prisma.user.count({ where: { email: racer.userName } })).toBe(1);
    const other = await scim('POST', '/Users', newUser());
    const put = await scim('PUT', `/Users/${other.body.id}`, { ...newUser(), userName: first.body.userName });
    expect(put).toMatchObject({ status: 409, body: { scimType: 'uniqueness' } });
    const invalid = await scim('POST', '/Users', { ...newUser(), userName: 'not an email' });
    expect(invalid).toMatchObject({ status: 400, body: { scimType: 'invalidValue' } });
    const missing = await scim('POST', '/Users', { schemas: [USER_SCHEMA] });
    expect(missing.status).toBe(400);
    expect((await scim('POST', '/Users', newUser(), 'text/plain')).status).toBe(415);
    const nul = await scim('POST', '/Users', { ...newUser(), displayName: 'a\u0000b' });
    expect(nul).toMatchObject({ status: 400, body: { scimType: 'invalidValue' } });
    const bidi = await scim('POST', '/Users', { ...newUser(), displayName: 'evil\u202Eexe' });
    expect(bidi).toMatchObject({ status: 400, body: { scimType: 'invalidValue' } });
  });
});

describe('filters and paging', () => {
  const tag = `flt${Date.now()}`;
  const made: any[] = [];
  beforeAll(async () => {
    for (const [i, extra] of [
      { externalId: `${tag}-a` },
      { externalId: `${tag}-b`, active: false },
      { externalId: 'other' },
      {},
    ].entries()) {
      const body = { ...newUser(extra), userName: `${tag}.${i}@${i % 2 ? 'odd' : 'even'}.example` };
      body.emails = [{ primary: true, value: body.userName, type: 'work' }];
      const created = await scim('POST', '/Users', body);
      expect(created.status).toBe(201);
      made.push(created.body);
    }
  });

  const ids = (r: ScimAnswer) => r.body.Resources.map((u: any) => u.id).sort();

  it.each([
    [`userName sw "${'TAG'}"`, [0, 1, 2, 3]],
    [`userName co "@odd."`, [1, 3]],
    [`emails.value ew "@even.example"`, [0, 2]],
    [`emails[type eq "work" and value co "@even."]`, [0, 2]],
    [`externalId sw "TAGX-"`, [0, 1]],
    [`externalId eq "TAGX-a" or externalId eq "other"`, [0, 2]],
    [`userName sw "TAG" and externalId pr`, [0, 1, 2]],
    [`userName sw "TAG" and active eq false`, [1]],
    [`userName sw "TAG" and active ne false`, [0, 2, 3]],
    [`userName sw "TAG" and userName ne "TAG.3@ODD.example"`, [0, 1, 2]],
    [`userName sw "TAG" and not (externalId pr)`, [3]],
    // LIKE's wildcards are literal characters in a SCIM filter.
    [`userName sw "TAG" and userName co "%"`, []],
    [`userName sw "TAG" and userName co "_"`, []],
    [`userName eq "TAG_0@EVEN.example"`, []],
    [`userName eq "TAG.0@EVEN.example"`, [0]],
  ])('%s', async (raw, expected) => {
    const query = raw.replaceAll('TAGX', tag).replaceAll('TAG', tag);
    const answer = await list({ filter: query });
    expect(answer.status).toBe(200);
    expect(ids(answer)).toEqual(expected.map((i) => made[i].id).sort());
    expect(answer.body.totalResults).toBe(expected.length);
    // The same filter evaluated by the library's own tester on the representations of everyone
    // (userName lower-cased in the query: caseExact false, and the stored emails are lower-case).
    const everyone = await list({ count: 200 });
    const lowered = query.replace(/(userName|emails\.value|value) (\w\w) "([^"]*)"/g, (_, a, op, v) => `${a} ${op} "${v.toLowerCase()}"`);
    const independent = everyone.body.Resources.filter(scimFilter(parseFilter(lowered))).map((u: any) => u.id);
    expect(independent.sort()).toEqual(ids(answer));
  });

  it('narrows answers to attributes / excludedAttributes (id and schemas always)', async () => {
    const filter = `userName eq "${made[0].userName}"`;
    const narrowed = await list({ filter, attributes: 'userName,emails.value,urn:ietf:params:scim:schemas:core:2.0:User:name.givenName' });
    expect(narrowed.body.Resources[0]).toEqual({
      schemas: [USER_SCHEMA],
      id: made[0].id,
      userName: made[0].userName,
      name: { givenName: made[0].name.givenName },
      emails: [{ value: made[0].userName }],
    });
    const without = await scim('GET', `/Users/${made[0].id}?excludedAttributes=emails,name.familyName,meta,id`);
    expect(without.body).toEqual({
      ...made[0],
      emails: undefined,
      meta: undefined,
      name: { formatted: made[0].name.formatted, givenName: made[0].name.givenName },
    });
    expect((await list({ attributes: 'user name' })).body.scimType).toBe('invalidValue');
  });

  it('refuses an unparsable filter or an unserved attribute with 400 invalidFilter', async () => {
    for (const bad of ['userName eq', 'userName zz "x"', '(userName eq "x"', 'title eq "boss"', 'active co "t"']) {
      const answer = await list({ filter: bad });
      expect(answer, bad).toMatchObject({ status: 400, body: { schemas: [ERROR_SCHEMA], status: '400', scimType: 'invalidFilter' } });
    }
  });

  it('pages with startIndex and count (count at most 200, default 100)', async () => {
    const filter = `userName sw "${tag}"`;
    const first = await list({ filter, startIndex: 1, count: 2 });
    expect(first.body).toMatchObject({ totalResults: 4, itemsPerPage: 2, startIndex: 1 });
    const second = await list({ filter, startIndex: 3, count: 2 });
    expect(second.body).toMatchObject({ totalResults: 4, itemsPerPage: 2, startIndex: 3 });
    const all = [...first.body.Resources, ...second.body.Resources].map((u: any) => u.id);
    expect(all).toEqual(made.map((u) => u.id));
    expect((await list({ filter, startIndex: 5 })).body).toMatchObject({ totalResults: 4, itemsPerPage: 0, Resources: [] });
    expect((await list({ filter, count: 0 })).body).toMatchObject({ totalResults: 4, itemsPerPage: 0 });
    expect((await list({ filter, startIndex: 0, count: 1 })).body).toMatchObject({ startIndex: 1, itemsPerPage: 1 });
    expect((await list({ count: 500 })).body.itemsPerPage).toBeLessThanOrEqual(200);
    expect((await list({ count: 'ten' })).status).toBe(400);
  });
});

describe('boundaries', () => {
  it("answers 404 for another team's user exactly as for an unknown id", async () => {
    const other = await addTeam(server);
    const unknownId = '0190b1c2-0000-7000-8000-000000000000';
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
      const body = method === 'PUT' ? newUser() : method === 'PATCH' ? patchOf({ op: 'replace', path: 'active', value: false }) : undefined;
      const theirs = await scim(method, `/Users/${other.userId}`, body);
      const unknown = await scim(method, `/Users/${unknownId}`, body);
      expect(theirs.status, method).toBe(404);
      expect(unknown.status).toBe(404);
      expect({ ...theirs.body, detail: theirs.body.detail.replace(other.userId, 'ID') }).toEqual({
        ...unknown.body,
        detail: unknown.body.detail.replace(unknownId, 'ID'),
      });
    }
    const row = await server.services.prisma.user.findUniqueOrThrow({ where: { id: other.userId } });
    expect(row).toMatchObject({ active: true, deletedAt: null });
    const otherEmail = (await server.services.prisma.user.findUniqueOrThrow({ where: { id: other.userId } })).email;
    expect((await list({ filter: `userName eq "${otherEmail}"` })).body.totalResults).toBe(0);
  });

  it('never deactivates or deletes a SUPER_ADMIN: 400 mutability, nothing changed', async () => {
    const superAdmin = await server.services.prisma.user.findFirstOrThrow({ where: { teamId: server.teamId, role: 'SUPER_ADMIN' } });
    // The bootstrap admin is a User too.
    expect((await list({ filter: `userName eq "${superAdmin.email}"` })).body.Resources[0].id).toBe(superAdmin.id);
    const patch = await scim('PATCH', `/Users/${superAdmin.id}`, patchOf({ op: 'Replace', path: 'active', value: 'False' }));
    expect(patch).toMatchObject({ status: 400, body: { schemas: [ERROR_SCHEMA], scimType: 'mutability' } });
    const put = await scim('PUT', `/Users/${superAdmin.id}`, { userName: superAdmin.email, displayName: superAdmin.name, active: false });
    expect(put.body.scimType).toBe('mutability');
    const del = await scim('DELETE', `/Users/${superAdmin.id}`);
    expect(del.body.scimType).toBe('mutability');
    const row = await server.services.prisma.user.findUniqueOrThrow({ where: { id: superAdmin.id } });
    expect(row).toMatchObject({ active: true, deletedAt: null });
    expect(await statusOnGraphql(server.adminKey)).toBe(200);
    // Adopting the SUPER_ADMIN (externalId) is fine.
    const adopted = await scim('PATCH', `/Users/${superAdmin.id}`, patchOf({ op: 'add', path: 'externalId', value: 'okta-owner' }));
    expect(adopted.body).toMatchObject({ externalId: 'okta-owner', active: true });
  });
});

const REVOKED = 'subscription { apiKeyRevoked { apiKey { id } reason revokedAt } }';

describe('deprovisioning', () => {
  it('active false revokes the 3 keys at once (DEPROVISIONED): 401 next, events then 4401, notices, outbox, audit', async () => {
    const member = await addUser(server, server.teamId);
    const second = await addKey(server, member.user, 'second');
    const third = await addKey(server, member.user, 'third');
    const keys = [member.key, second.secret, third.secret];
    const keyIds = [member.apiKey.id, second.apiKey.id, third.apiKey.id];
    for (const key of keys) expect(await statusOnGraphql(key)).toBe(200);

    const ws = await openWsSession(server.url, member.key);
    ws.subscribe('r', REVOKED);
    await settle();

    const started = Date.now();
    const answer = await scim('PATCH', `/Users/${member.user.id}`, patchOf({ op: 'Replace', path: 'active', value: 'False' }));
    expect(answer.status).toBe(200);
    expect(answer.body.active).toBe(false);
    for (const key of keys) expect(await statusOnGraphql(key)).toBe(401);
    const afterMs = Date.now() - started;

    const closed = await ws.closed;
    expect(closed.code).toBe(4401);
    const events = ws.log.filter((m) => m.type === 'next').map((m: any) => m.payload.data.apiKeyRevoked);
    expect(events.map((e: any) => e.reason)).toEqual(events.map(() => 'DEPROVISIONED'));
    expect(events.map((e: any) => e.apiKey.id).sort()).toEqual([...keyIds].sort());
    expect(ws.log.at(-1)?.type).toBe('close');

    const rows = await server.services.prisma.apiKey.findMany({ where: { id: { in: keyIds } } });
    expect(rows.map((r) => [r.status, r.revocationReason])).toEqual(keyIds.map(() => ['REVOKED', 'DEPROVISIONED']));
    expect(new Set(rows.map((r) => r.revokedAt?.getTime())).size).toBe(1);
    const notices = await server.services.prisma.notification.findMany({ where: { userId: member.user.id, keyId: { in: keyIds } } });
    expect(notices).toHaveLength(3);
    const outbox = await server.services.prisma.emailOutbox.findMany({ where: { to: member.user.email } });
    expect(outbox.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(outbox)).not.toContain(member.key.slice(4));

    const audit = await auditOf(member.user.id);
    const deprovisioned = audit.filter((e) => e.action === 'member.deprovisioned');
    expect(deprovisioned).toHaveLength(1);
    expect(deprovisioned[0]).toMatchObject({ actorType: 'SCIM', actorKeyHint: scimHint, actorId: null, targetType: 'user' });
    expect(deprovisioned[0]!.summary).toMatch(/3 personal key\(s\) revoked/);
    const keyEvents = await server.services.prisma.auditEvent.findMany({ where: { targetId: { in: keyIds }, action: 'api_key.revoked' } });
    expect(keyEvents.map((e) => e.actorType)).toEqual(['SCIM', 'SCIM', 'SCIM']);

    // Reactivation restores no key.
    const back = await scim('PATCH', `/Users/${member.user.id}`, patchOf({ op: 'replace', value: { active: true } }));
    expect(back.body.active).toBe(true);
    for (const key of keys) expect(await statusOnGraphql(key)).toBe(401);
    console.info(
      `deprovisioning: PATCH answered and the 3 keys refused within ${afterMs} ms; ${events.length} apiKeyRevoked events before 4401`,
    );
  });

  it('deprovisions once when two deactivations race (the member row is locked)', async () => {
    const member = await addUser(server, server.teamId);
    const off = patchOf({ op: 'replace', path: 'active', value: false });
    const answers = await Promise.all([scim('PATCH', `/Users/${member.user.id}`, off), scim('DELETE', `/Users/${member.user.id}`)]);
    // Either order is right (a PATCH after the DELETE finds a tombstone: 404); the key is revoked once.
    expect([
      [200, 204],
      [204, 404],
    ]).toContainEqual(answers.map((a) => a.status).sort());
    const summaries = (await auditOf(member.user.id)).filter((e) => e.action === 'member.deprovisioned').map((e) => e.summary);
    expect(summaries.filter((s) => s.includes(': 1 personal key(s) revoked'))).toHaveLength(1);
    const revoked = await server.services.prisma.auditEvent.count({ where: { targetId: member.apiKey.id, action: 'api_key.revoked' } });
    expect(revoked).toBe(1);
  });

  it("ends the deactivated member's open invitations", async () => {
    const email = `invited-${Date.now()}@corp.example`;
    const invited = await gqlPost(
      server.adminKey,
      'mutation ($e: String!) { inviteTeamMember(email: $e, name: "Soon", role: MEMBER) { id } }',
      { e: email },
    );
    expect(invited.errors).toBeUndefined();
    // A member with that email provisioned meanwhile, then deactivated: the invitation dies.
    const created = await scim('POST', '/Users', { ...newUser(), userName: email, emails: [] });
    await scim('PATCH', `/Users/${created.body.id}`, patchOf({ op: 'replace', path: 'active', value: false }));
    const open = await server.services.prisma.invitation.count({ where: { email, acceptedAt: null, expiresAt: { gt: new Date() } } });
    expect(open).toBe(0);
  });

  it('DELETE makes a tombstone (teamMembers with includeInactive only, not in /Users); a POST revives it keyless', async () => {
    const member = await addUser(server, server.teamId);
    const deleted = await scim('DELETE', `/Users/${member.user.id}`);
    expect(deleted.status).toBe(204);
    expect(await statusOnGraphql(member.key)).toBe(401);
    expect((await scim('GET', `/Users/${member.user.id}`)).status).toBe(404);
    expect((await scim('DELETE', `/Users/${member.user.id}`)).status).toBe(404);
    expect((await list({ filter: `userName eq "${member.user.email}"` })).body.totalResults).toBe(0);

    const MEMBERS = 'query ($all: Boolean) { teamMembers(first: 500, includeInactive: $all) { id active externalId } }';
    const live = await gqlPost(server.adminKey, MEMBERS, { all: false });
    expect(live.data.teamMembers.map((m: any) => m.id)).not.toContain(member.user.id);
    const all = await gqlPost(server.adminKey, MEMBERS, { all: true });
    expect(all.data.teamMembers.find((m: any) => m.id === member.user.id)).toMatchObject({ active: false });
    const row = await server.services.prisma.user.findUniqueOrThrow({ where: { id: member.user.id } });
    expect(row.deletedAt).not.toBeNull();
    const key = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: member.apiKey.id } });
    expect(key).toMatchObject({ status: 'REVOKED', revocationReason: 'DEPROVISIONED' });

    const revived = await scim('POST', '/Users', { ...newUser({ externalId: 'back' }), userName: member.user.email.toUpperCase() });
    expect(revived.status).toBe(201);
    expect(revived.body).toMatchObject({ id: member.user.id, userName: member.user.email, active: true, externalId: 'back' });
    const live2 = await server.services.prisma.apiKey.count({ where: { createdById: member.user.id, status: { not: 'REVOKED' } } });
    expect(live2).toBe(0);
    expect(await statusOnGraphql(member.key)).toBe(401);
    const actions = (await auditOf(member.user.id)).map((e) => e.action);
    expect(actions).toEqual(['member.deprovisioned', 'member.provisioned']);
    expect((await auditOf(member.user.id)).at(-1)?.summary).toMatch(/^Revived/);
  });
});
