// /scim/v2/Groups (issue 18 item 3, SPEC §5) over HTTP against a real server, through the gate with
// `Authorization: Bearer kps_…`: Okta's group push and Entra's capitalised PATCH ops, the admin
// group's role mapping (TEAM_ADMIN granted and taken back at once for authorization, never
// SUPER_ADMIN, a SUPER_ADMIN never demoted), uniqueness, another team's ids, filters (cross-checked
// with scim2-parse-filter's in-memory evaluator), paging, projection, discovery and the audit trail.
import { parse as parseFilter, filter as scimFilter } from 'scim2-parse-filter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';
import { addTeam, addUser, viewerTeamId } from '../helpers/fixtures.js';
import { makeTestEnv, useTestServer } from '../helpers/server.js';

const server = useTestServer();

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const ADMIN_GROUP = 'Keyplane Admins';

async function gqlPost(key: string, query: string) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, ...((await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] }) };
}

let scimKey = '';
let scimHint = '';

async function scim(method: string, path: string, body?: unknown) {
  const res = await fetch(server.url.replace(/\/graphql$/, `/scim/v2${path}`), {
    method,
    headers: { authorization: `Bearer ${scimKey}`, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
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
  scim('GET', `/Groups?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))}`);
const patchOf = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });
let counter = 0;
const uniqueName = (label: string) => `${label} ${++counter}-${Date.now()}`;
const memberIds = (body: any) => (body.members as { value: string }[]).map((m) => m.value).sort();
const role = async (id: string) => (await server.services.prisma.user.findUniqueOrThrow({ where: { id } })).role;

/** Whether the key can read an admin-only field (teamMembers): the role its requests authorize with. */
async function readsTeamMembers(key: string): Promise<boolean> {
  const answer = await gqlPost(key, '{ teamMembers(first: 1) { id } }');
  if (answer.data?.teamMembers) return true;
  expect(answer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  return false;
}

/** Polls until the key's access is `expected`; answers the ms it took (the caller bounds it). */
async function accessWithin(key: string, expected: boolean, limitMs = 1_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if ((await readsTeamMembers(key)) === expected) return Date.now() - started;
    if (Date.now() - started > limitMs) throw new Error(`access still ${!expected} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  const settings = await gqlPost(
    server.adminKey,
    'mutation { updateApiKeySettings(input: { scimEnabled: true }) { settings { scimEnabled } } }',
  );
  expect(settings.data?.updateApiKeySettings.settings.scimEnabled).toBe(true);
  const generated = await gqlPost(server.adminKey, 'mutation { generateScimApiKey(name: "IdP groups") { secret scimApiKey { hint } } }');
  scimKey = generated.data.generateScimApiKey.secret;
  scimHint = generated.data.generateScimApiKey.scimApiKey.hint;
});

describe('Groups discovery', () => {
  it('lists the Group resource type and the core Group schema with exactly the attributes served', async () => {
    const types = await scim('GET', '/ResourceTypes');
    expect(types.body.Resources.map((t: any) => t.id)).toEqual(['User', 'Group']);
    expect(types.body.Resources[1]).toMatchObject({ name: 'Group', endpoint: '/Groups', schema: GROUP_SCHEMA });
    expect((await scim('GET', '/ResourceTypes/Group')).body).toMatchObject({ id: 'Group', endpoint: '/Groups' });
    const schema = await scim('GET', `/Schemas/${GROUP_SCHEMA}`);
    expect(schema.status).toBe(200);
    expect(schema.body.attributes.map((a: any) => a.name)).toEqual(['displayName', 'members', 'externalId']);
    const members = schema.body.attributes.find((a: any) => a.name === 'members');
    expect(members.subAttributes.map((a: any) => a.name)).toEqual(['value', 'display', '$ref']);
    expect((await scim('POST', '/ResourceTypes/Group', {})).status).toBe(405);
  });
});

describe('Okta and Entra exchanges', () => {
  it('Okta group push: probe, create with members, PATCH add and remove (path filter), rename, delete', async () => {
    const a = await addUser(server, server.teamId);
    const b = await addUser(server, server.teamId);
    const displayName = uniqueName('Engineering');
    const probe = await list({ filter: `displayName eq "${displayName}"`, startIndex: 1, count: 100 });
    expect(probe.body).toMatchObject({ totalResults: 0, Resources: [] });

    const created = await scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName,
      externalId: '00g1okta',
      members: [{ value: a.user.id, display: 'ignored' }],
    });
    expect(created.status).toBe(201);
    expect(created.contentType).toMatch(/^application\/scim\+json/);
    const id = created.body.id as string;
    const base = server.url.replace(/\/graphql$/, '/scim/v2');
    expect(created.body).toEqual({
      schemas: [GROUP_SCHEMA],
      id,
      externalId: '00g1okta',
      displayName,
      members: [{ value: a.user.id, display: a.user.name, $ref: `${base}/Users/${a.user.id}` }],
      meta: { resourceType: 'Group', created: expect.any(String), lastModified: expect.any(String), location: `${base}/Groups/${id}` },
    });
    expect(created.location).toBe(created.body.meta.location);
    expect((await scim('GET', `/Groups/${id}`)).body).toEqual(created.body);
    expect((await list({ filter: `displayName eq "${displayName.toUpperCase()}"` })).body.Resources[0].id).toBe(id);

    const added = await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'add', path: 'members', value: [{ value: b.user.id }] }));
    expect(added.status).toBe(200);
    expect(memberIds(added.body)).toEqual([a.user.id, b.user.id].sort());
    // Adding a member twice keeps one membership.
    const again = await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'add', path: 'members', value: [{ value: b.user.id }] }));
    expect(memberIds(again.body)).toEqual([a.user.id, b.user.id].sort());

    const removed = await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'remove', path: `members[value eq "${a.user.id}"]` }));
    expect(removed.status).toBe(200);
    expect(memberIds(removed.body)).toEqual([b.user.id]);

    const renamed = await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'replace', value: { id, displayName: `${displayName} (new)` } }));
    expect(renamed.body.displayName).toBe(`${displayName} (new)`);
    expect(memberIds(renamed.body)).toEqual([b.user.id]);
    expect(new Date(renamed.body.meta.lastModified).getTime()).toBeGreaterThanOrEqual(new Date(created.body.meta.created).getTime());

    // Okta's PUT with the whole group: members replaced.
    const put = await scim('PUT', `/Groups/${id}`, { schemas: [GROUP_SCHEMA], id, displayName, members: [{ value: a.user.id }] });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ displayName, members: [{ value: a.user.id }] });
    expect(put.body.externalId).toBeUndefined();

    expect((await scim('DELETE', `/Groups/${id}`)).status).toBe(204);
    expect((await scim('GET', `/Groups/${id}`)).status).toBe(404);
    expect(await server.services.prisma.scimGroupMember.count({ where: { groupId: id } })).toBe(0);

    // One event per change, actor SCIM with the key's hint.
    const events = await server.services.prisma.auditEvent.findMany({ where: { targetId: id }, orderBy: [{ at: 'asc' }, { id: 'asc' }] });
    expect(events.map((e) => e.action)).toEqual([
      'group.created',
      'group.updated',
      'group.updated',
      'group.updated',
      'group.updated',
      'group.updated',
      'group.deleted',
    ]);
    expect(events.every((e) => e.actorType === 'SCIM' && e.actorKeyHint?.endsWith(scimHint) && e.targetType === 'group')).toBe(true);
    expect(events[3]!.summary).toContain('1 member(s) removed');
  });

  it('Entra: capitalised Add / Remove with a value list, Replace displayName, no path', async () => {
    const a = await addUser(server, server.teamId);
    const b = await addUser(server, server.teamId);
    const created = await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: uniqueName('Sales'), members: [] });
    expect(created.status).toBe(201);
    expect(created.body.members).toEqual([]);
    const id = created.body.id;
    const add = await scim(
      'PATCH',
      `/Groups/${id}`,
      patchOf({ op: 'Add', path: 'members', value: [{ value: a.user.id }, { value: b.user.id }] }),
    );
    expect(memberIds(add.body)).toEqual([a.user.id, b.user.id].sort());
    const remove = await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'Remove', path: 'members', value: [{ value: a.user.id }] }));
    expect(memberIds(remove.body)).toEqual([b.user.id]);
    const replace = await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'Replace', path: 'displayName', value: 'Sales EMEA' }));
    expect(replace.body.displayName).toBe('Sales EMEA');
    const addNoPath = await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'Add', value: { members: [{ value: a.user.id }] } }));
    expect(memberIds(addNoPath.body)).toEqual([a.user.id, b.user.id].sort());
    const removeAll = await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'Remove', path: 'members' }));
    expect(removeAll.body.members).toEqual([]);
    expect((await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'Move', path: 'members' }))).body.scimType).toBe('invalidValue');
  });
});

describe('the admin group', () => {
  it(`"${ADMIN_GROUP}" grants TEAM_ADMIN at once and takes it back when the member leaves, within 1 s`, async () => {
    const member = await addUser(server, server.teamId);
    expect(await readsTeamMembers(member.key)).toBe(false);
    const created = await scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: 'keyplane admins',
      members: [{ value: member.user.id }],
    });
    expect(created.status).toBe(201);
    expect(await role(member.user.id)).toBe('TEAM_ADMIN');
    const granted = await accessWithin(member.key, true);
    const id = created.body.id;

    const removed = await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'remove', path: `members[value eq "${member.user.id}"]` }));
    expect(removed.status).toBe(200);
    expect(await role(member.user.id)).toBe('MEMBER');
    const revoked = await accessWithin(member.key, false);
    console.info(`admin group: access granted after ${granted} ms, taken back after ${revoked} ms`);

    const events = await server.services.prisma.auditEvent.findMany({
      where: { targetId: member.user.id, action: 'member.updated' },
      orderBy: [{ at: 'asc' }, { id: 'asc' }],
    });
    expect(events.map((e) => e.summary)).toEqual([
      expect.stringContaining('role MEMBER → TEAM_ADMIN'),
      expect.stringContaining('role TEAM_ADMIN → MEMBER'),
    ]);
    expect(events.every((e) => e.actorType === 'SCIM')).toBe(true);

    // Re-added, then the group deleted: demoted; renamed away from the admin name: demoted too.
    await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'add', path: 'members', value: [{ value: member.user.id }] }));
    expect(await role(member.user.id)).toBe('TEAM_ADMIN');
    await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'replace', path: 'displayName', value: 'Former admins' }));
    expect(await role(member.user.id)).toBe('MEMBER');
    await scim('PATCH', `/Groups/${id}`, patchOf({ op: 'replace', path: 'displayName', value: ADMIN_GROUP }));
    expect(await role(member.user.id)).toBe('TEAM_ADMIN');
    expect((await scim('DELETE', `/Groups/${id}`)).status).toBe(204);
    expect(await role(member.user.id)).toBe('MEMBER');
    await accessWithin(member.key, false);
  });

  it('a user deleted through SCIM leaves its groups: revived by POST, it is a MEMBER in no group', async () => {
    const member = await addUser(server, server.teamId);
    const group = await scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: uniqueName('Keyplane Admins? no:'),
      members: [{ value: member.user.id }],
    });
    const admins = await scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: ADMIN_GROUP,
      members: [{ value: member.user.id }],
    });
    expect(admins.status).toBe(201);
    expect(await role(member.user.id)).toBe('TEAM_ADMIN');
    expect((await scim('DELETE', `/Users/${member.user.id}`)).status).toBe(204);
    expect(await role(member.user.id)).toBe('MEMBER');
    expect(memberIds((await scim('GET', `/Groups/${group.body.id}`)).body)).toEqual([]);
    expect(memberIds((await scim('GET', `/Groups/${admins.body.id}`)).body)).toEqual([]);
    const revived = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: member.user.email,
      name: { formatted: 'Revived' },
    });
    expect(revived.status).toBe(201);
    expect(revived.body.id).toBe(member.user.id);
    expect(await role(member.user.id)).toBe('MEMBER');
    expect((await scim('DELETE', `/Groups/${admins.body.id}`)).status).toBe(204);
  });

  it('a member held by another admin group stays TEAM_ADMIN; a SUPER_ADMIN is never demoted nor made anything else', async () => {
    const member = await addUser(server, server.teamId);
    const superAdmin = await server.services.prisma.user.findFirstOrThrow({ where: { teamId: server.teamId, role: 'SUPER_ADMIN' } });
    const admins = await scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: ADMIN_GROUP,
      members: [{ value: member.user.id }, { value: superAdmin.id }],
    });
    expect(admins.status).toBe(201);
    expect(await role(superAdmin.id)).toBe('SUPER_ADMIN');
    // A second admin group under another case is the same name: 409.
    const clash = await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: ADMIN_GROUP.toUpperCase() });
    expect(clash.status).toBe(409);
    expect(clash.body).toMatchObject({ schemas: [ERROR_SCHEMA], status: '409', scimType: 'uniqueness' });

    const other = await scim('POST', '/Groups', {
      schemas: [GROUP_SCHEMA],
      displayName: uniqueName('Ops'),
      members: [{ value: member.user.id }],
    });
    // Leaving a group that grants nothing changes nothing.
    await scim('PATCH', `/Groups/${other.body.id}`, patchOf({ op: 'remove', path: 'members' }));
    expect(await role(member.user.id)).toBe('TEAM_ADMIN');

    const emptied = await scim('PUT', `/Groups/${admins.body.id}`, { schemas: [GROUP_SCHEMA], displayName: ADMIN_GROUP, members: [] });
    expect(emptied.body.members).toEqual([]);
    expect(await role(member.user.id)).toBe('MEMBER');
    expect(await role(superAdmin.id)).toBe('SUPER_ADMIN');
    expect(await readsTeamMembers(server.adminKey)).toBe(true);
    expect((await scim('DELETE', `/Groups/${admins.body.id}`)).status).toBe(204);
    expect(await role(superAdmin.id)).toBe('SUPER_ADMIN');
    expect(await server.services.prisma.user.count({ where: { teamId: server.teamId, role: 'SUPER_ADMIN' } })).toBe(1);
  });
});

describe('validation and boundaries', () => {
  it('409 on a taken displayName (case-insensitive), on create and on rename', async () => {
    const name = uniqueName('Finance');
    const first = await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: name });
    expect(first.status).toBe(201);
    const second = await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: name.toLowerCase() });
    expect(second.status).toBe(409);
    expect(second.body.scimType).toBe('uniqueness');
    const third = await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: `${name} 2` });
    const rename = await scim(
      'PATCH',
      `/Groups/${third.body.id}`,
      patchOf({ op: 'replace', path: 'displayName', value: name.toUpperCase() }),
    );
    expect(rename.status).toBe(409);
    // Concurrent creates of one name make one group.
    const racing = uniqueName('Race');
    const answers = await Promise.all([1, 2, 3].map(() => scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: racing })));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409]);
  });

  it('members must be live members of the team: another team’s or an unknown id is 400 invalidValue, nothing written', async () => {
    const other = await addTeam(server);
    const member = await addUser(server, server.teamId);
    const name = uniqueName('Mixed');
    for (const value of [other.userId, '0190b1c2-0000-7000-8000-000000000000']) {
      const answer = await scim('POST', '/Groups', {
        schemas: [GROUP_SCHEMA],
        displayName: name,
        members: [{ value: member.user.id }, { value }],
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ schemas: [ERROR_SCHEMA], status: '400', scimType: 'invalidValue' });
    }
    expect((await list({ filter: `displayName eq "${name}"` })).body.totalResults).toBe(0);
    const created = await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: name, members: [{ value: member.user.id }] });
    const patched = await scim(
      'PATCH',
      `/Groups/${created.body.id}`,
      patchOf({ op: 'add', path: 'members', value: [{ value: other.userId }] }),
    );
    expect(patched.body.scimType).toBe('invalidValue');
    expect(memberIds((await scim('GET', `/Groups/${created.body.id}`)).body)).toEqual([member.user.id]);
    // A member deleted through SCIM is no User any more: not listed, and refused as a new member.
    expect((await scim('DELETE', `/Users/${member.user.id}`)).status).toBe(204);
    expect((await scim('GET', `/Groups/${created.body.id}`)).body.members).toEqual([]);
    // Removing a member who is not in the group succeeds; removing an id that is no User has no target.
    const outsider = await addUser(server, server.teamId);
    const idempotent = await scim(
      'PATCH',
      `/Groups/${created.body.id}`,
      patchOf({ op: 'remove', path: `members[value eq "${outsider.user.id}"]` }),
    );
    expect(idempotent.status).toBe(200);
    for (const value of [other.userId, 'no-such-id']) {
      const remove = await scim('PATCH', `/Groups/${created.body.id}`, patchOf({ op: 'Remove', path: 'members', value: [{ value }] }));
      expect(remove.status).toBe(400);
      expect(remove.body.scimType).toBe('noTarget');
    }
    const readd = await scim(
      'PATCH',
      `/Groups/${created.body.id}`,
      patchOf({ op: 'add', path: 'members', value: [{ value: member.user.id }] }),
    );
    expect(readd.status).toBe(400);
    expect((await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: ' ' })).body.scimType).toBe('invalidValue');
    expect((await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'a\u202Eb' })).status).toBe(400);
    expect((await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'x', members: 'nope' })).status).toBe(400);
  });

  it("answers 404 for another team's group exactly as for an unknown id", async () => {
    const other = await addTeam(server);
    const theirGroup = await server.services.prisma.scimGroup.create({ data: { teamId: other.teamId, displayName: 'Theirs' } });
    const unknownId = '0190b1c2-0000-7000-8000-000000000001';
    for (const method of ['GET', 'PUT', 'PATCH', 'DELETE']) {
      const body =
        method === 'PUT'
          ? { schemas: [GROUP_SCHEMA], displayName: 'Mine now' }
          : method === 'PATCH'
            ? patchOf({ op: 'replace', path: 'displayName', value: 'Mine now' })
            : undefined;
      const theirs = await scim(method, `/Groups/${theirGroup.id}`, body);
      const unknown = await scim(method, `/Groups/${unknownId}`, body);
      expect(theirs.status, method).toBe(404);
      expect(unknown.status).toBe(404);
      expect({ ...theirs.body, detail: theirs.body.detail.replace(theirGroup.id, 'ID') }).toEqual({
        ...unknown.body,
        detail: unknown.body.detail.replace(unknownId, 'ID'),
      });
    }
    expect(await server.services.prisma.scimGroup.findUniqueOrThrow({ where: { id: theirGroup.id } })).toMatchObject({
      displayName: 'Theirs',
    });
    expect((await list({ filter: 'displayName eq "Theirs"' })).body.totalResults).toBe(0);
  });
});

describe('filters, paging, projection', () => {
  it('filters on displayName, externalId, members.value (cross-checked in memory), pages with startIndex/count ≤ 200', async () => {
    const a = await addUser(server, server.teamId);
    const tag = `F${Date.now()}`;
    const made: any[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await scim('POST', '/Groups', {
        schemas: [GROUP_SCHEMA],
        displayName: `${tag} group_${i}`,
        externalId: `ext-${tag}-${i}`,
        members: i % 2 === 0 ? [{ value: a.user.id }] : [],
      });
      made.push(answer.body);
    }
    const all = (await list({ count: 200 })).body.Resources as any[];
    const filters = [
      `displayName eq "${tag} group_1"`,
      `externalId eq "ext-${tag}-3"`,
      `members.value eq "${a.user.id}"`,
      `members[value eq "${a.user.id}"]`,
      `members[value eq "${a.user.id}"] and externalId ne "ext-${tag}-0"`,
      `displayName eq "${tag} group_0" or displayName eq "${tag} group_4"`,
      `displayName sw "${tag} group_"`,
      `displayName co "${tag} group_" and displayName ew "_3"`,
      `externalId sw "ext-${tag}-" and not (externalId ew "-2")`,
      `displayName sw "${tag}" and externalId pr`,
    ];
    for (const filter of filters) {
      const answer = await list({ filter, count: 200 });
      expect(answer.status, filter).toBe(200);
      const expected = all.filter(scimFilter(parseFilter(filter))).map((g) => g.id);
      expect(
        answer.body.Resources.map((g: any) => g.id),
        filter,
      ).toEqual(expected);
      expect(answer.body.totalResults).toBe(expected.length);
    }
    // displayName is caseExact false (the in-memory evaluator compares exactly).
    expect((await list({ filter: `displayName eq "${tag.toLowerCase()} GROUP_1"` })).body.Resources.map((g: any) => g.id)).toEqual([
      made[1].id,
    ]);
    // "%" is no wildcard: it matches itself only.
    expect((await list({ filter: `displayName eq "${tag} group%"` })).body.totalResults).toBe(0);
    // members pr: the groups with a member (RFC 7644 §3.4.2.2: an empty list is not "present";
    // the in-memory evaluator counts [] as present, so this one is stated here).
    expect((await list({ filter: `externalId co "${tag}" and members pr` })).body.Resources.map((g: any) => g.id).sort()).toEqual(
      [made[0].id, made[2].id, made[4].id].sort(),
    );
    // "_" is no wildcard either, in co/sw/ew; displayName co is case-insensitive.
    expect((await list({ filter: `displayName co "${tag} groupX"` })).body.totalResults).toBe(0);
    expect((await list({ filter: `displayName co "${tag.toLowerCase()} GROUP_"` })).body.totalResults).toBe(5);
    for (const bad of ['displayName gt "x"', 'nickName eq "x"', 'displayName eq', 'members.display eq "x"', 'members co "x"']) {
      const answer = await list({ filter: bad });
      expect(answer.status, bad).toBe(400);
      expect(answer.body.scimType).toBe('invalidFilter');
    }

    const total = (await list({ count: 0 })).body;
    expect(total).toMatchObject({ itemsPerPage: 0, Resources: [] });
    const page = await list({ startIndex: total.totalResults - 1, count: 2 });
    expect(page.body).toMatchObject({ startIndex: total.totalResults - 1, itemsPerPage: 2, totalResults: total.totalResults });
    expect(page.body.Resources.map((g: any) => g.id)).toEqual(made.slice(-2).map((g) => g.id));
    expect((await list({ count: 500 })).body.itemsPerPage).toBeLessThanOrEqual(200);
    expect((await list({ count: 'ten' })).status).toBe(400);

    const narrowed = await scim('GET', `/Groups/${made[0].id}?attributes=displayName`);
    expect(narrowed.body).toEqual({ schemas: [GROUP_SCHEMA], id: made[0].id, displayName: made[0].displayName });
    const excluded = await list({ filter: `externalId eq "ext-${tag}-0"`, excludedAttributes: 'members' });
    expect(excluded.body.Resources[0].members).toBeUndefined();
    expect(excluded.body.Resources[0].displayName).toBe(made[0].displayName);
  });
});

describe('the admin group on two instances', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  let a: KeyplaneServer;
  let b: KeyplaneServer;

  beforeAll(async () => {
    testEnv = await makeTestEnv();
    a = await startKeyplane(loadConfig(testEnv.env));
    b = await startKeyplane(loadConfig(testEnv.env));
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await testEnv?.cleanup();
  });

  it('a role changed through a group on A authorizes on B within 1 s (the User trigger of caller_change_notify)', async () => {
    const adminKey = a.bootstrapKey!;
    const post = async (url: string, key: string, query: string) =>
      (await (
        await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': key },
          body: JSON.stringify({ query }),
        })
      ).json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
    await post(a.url, adminKey, 'mutation { updateApiKeySettings(input: { scimEnabled: true }) { settings { scimEnabled } } }');
    const secret = (await post(a.url, adminKey, 'mutation { generateScimApiKey(name: "idp") { secret } }')).data.generateScimApiKey.secret;
    const member = await addUser(a, await viewerTeamId(a, adminKey));
    const onB = async () => Boolean((await post(b.url, member.key, '{ teamMembers(first: 1) { id } }')).data?.teamMembers);
    const within = async (expected: boolean) => {
      const since = Date.now();
      while ((await onB()) !== expected) {
        if (Date.now() - since > 3_000) return Number.POSITIVE_INFINITY;
        await new Promise((r) => setTimeout(r, 10));
      }
      return Date.now() - since;
    };
    expect(await onB()).toBe(false); // B has the member's verification cached as MEMBER
    const groups = a.url.replace(/\/graphql$/, '/scim/v2/Groups');
    const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/scim+json' };
    const created = await fetch(groups, {
      method: 'POST',
      headers,
      body: JSON.stringify({ schemas: [GROUP_SCHEMA], displayName: ADMIN_GROUP, members: [{ value: member.user.id }] }),
    });
    expect(created.status).toBe(201);
    const granted = await within(true);
    expect(granted).toBeLessThan(1_000);
    const { id } = (await created.json()) as { id: string };
    expect((await fetch(`${groups}/${id}`, { method: 'DELETE', headers })).status).toBe(204);
    const taken = await within(false);
    expect(taken).toBeLessThan(1_000);
    console.info(`admin group on B: granted after ${granted} ms, taken back after ${taken} ms`);
  });
});
