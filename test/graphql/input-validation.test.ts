// Hostile input is normal input (issue 14, findings 8 and 12): NUL, unpaired surrogates, deep JSON,
// control and bidi characters in names, made-up cursors and request URL schemes are each
// BAD_USER_INPUT naming the field (HTTP 200), never an internal error, and change nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { addKey, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

let member: Awaited<ReturnType<typeof addUser>>;

interface Answer {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
  text: string;
}

/** A raw POST: `body` is sent exactly as given (so "\ud800" reaches the server as a JSON escape). */
async function post(body: string, key: string | null = server.adminKey): Promise<Answer> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(key ? { 'x-api-key': key } : {}),
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text };
}

const op = (query: string, variables?: unknown, key?: string | null) => post(JSON.stringify({ query, variables }), key);

function expectBadInput(a: Answer, field: string | RegExp) {
  expect(a.status, a.text).toBe(200);
  expect(a.body.errors?.[0]?.extensions?.code, a.text).toBe('BAD_USER_INPUT');
  const named = a.body.errors![0].extensions!.field as string;
  if (typeof field === 'string') expect(named, a.text).toBe(field);
  else expect(named, a.text).toMatch(field);
  expect(a.text).not.toMatch(/originalError|INTERNAL_SERVER_ERROR|Prisma|invalid byte sequence/);
}

const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '100000' });
beforeAll(async () => {
  member = await addUser(server, server.teamId);
});

const NAME_MUTATIONS: [string, string, (name: string) => unknown, string][] = [
  ['generateApiKey', 'mutation($n: String!) { generateApiKey(input: { name: $n }) { apiKey { id } } }', (n) => ({ n }), 'input.name'],
  ['createCollection', 'mutation($i: CollectionInput!) { createCollection(input: $i) { id } }', (n) => ({ i: { name: n } }), 'input.name'],
  [
    'createCollection (request name)',
    'mutation($i: CollectionInput!) { createCollection(input: $i) { id } }',
    (n) => ({ i: { name: 'ok', requests: [{ name: n, method: 'GET', url: 'https://example.com' }] } }),
    'input.requests.0.name',
  ],
  ['inviteTeamMember', 'mutation($n: String!) { inviteTeamMember(email: "x@example.com", name: $n) { id } }', (n) => ({ n }), 'name'],
];

describe('NUL and unpaired surrogates in any string', () => {
  it.each(NAME_MUTATIONS)('%s: NUL in a variable', async (_name, query, vars, field) => {
    const before = await counts();
    expectBadInput(await op(query, vars('a\u0000b')), field);
    expect(await counts()).toEqual(before);
  });

  it.each(NAME_MUTATIONS)('%s: an unpaired surrogate, as the JSON escape \\ud800', async (_name, query, vars, field) => {
    const body = JSON.stringify({ query, variables: vars('a@@b') }).replace('@@', '\\ud800');
    expect(body).toContain('\\ud800');
    expectBadInput(await post(body), field);
    const low = JSON.stringify({ query, variables: vars('@@b') }).replace('@@', '\\udc00');
    expectBadInput(await post(low), field);
  });

  it('an inline literal, in an input object', async () => {
    expectBadInput(await op('mutation { generateApiKey(input: { name: "a\\u0000b" }) { apiKey { id } } }'), 'input.name');
  });

  it('fields that are not names: location, description, a filter, a JSON body and its keys', async () => {
    expectBadInput(
      await op('mutation($l: String!) { reportExposedApiKeys(text: "nothing", location: $l) { id } }', { l: 'repo/\u0000' }),
      'location',
    );
    expectBadInput(
      await op('mutation($i: CollectionInput!) { createCollection(input: $i) { id } }', { i: { name: 'x', description: 'd\u0000' } }),
      'input.description',
    );
    expectBadInput(
      await op('query($v: String) { teamApiKeys(filter: { keyValue: $v }) { totalCount } }', { v: 'Xy9\u0000' }),
      'filter.keyValue',
    );
    const withBody = (body: unknown) => ({ i: { name: 'x', requests: [{ name: 'r', method: 'POST', url: 'https://example.com', body }] } });
    const create = 'mutation($i: CollectionInput!) { createCollection(input: $i) { id } }';
    expectBadInput(await op(create, withBody({ a: ['ok', 'n\u0000'] })), 'input.requests.0.body.a.1');
    expectBadInput(await op(create, withBody({ 'k\u0000': 1 })), 'input.requests.0.body');
    const inline = await op(
      'mutation { createCollection(input: { name: "x", requests: [{ name: "r", method: "GET", url: "https://e.com", body: { a: "\\u0000" } }] }) { id } }',
    );
    expectBadInput(inline, 'input.requests.0.body.a');
  });

  it('an operation without a key (acceptInvitation) is checked too', async () => {
    expectBadInput(
      await op('mutation($t: String!) { acceptInvitation(token: $t, keyName: "k") { secret } }', { t: 'kpinv_\u0000' }, null),
      'token',
    );
  });
});

describe('JSON nested too deep', () => {
  it('3,000 levels in a variable: BAD_USER_INPUT naming the field and the limit', async () => {
    const deep = `${'['.repeat(3000)}1${']'.repeat(3000)}`;
    const body = `{"query":"mutation($i: CollectionInput!) { createCollection(input: $i) { id } }","variables":{"i":{"name":"deep","requests":[{"name":"r","method":"POST","url":"https://example.com","body":${deep}}]}}}`;
    const before = await counts();
    const a = await post(body);
    expectBadInput(a, /^input\.requests\.0\.body(\.0)*$/);
    expect(a.body.errors![0].extensions!.limit).toBe('maxInputDepth');
    expect(await counts()).toEqual(before);
  });

  it('30 levels pass', async () => {
    let body: unknown = 'leaf';
    for (let i = 0; i < 26; i++) body = { n: body };
    const a = await op('mutation($i: CollectionInput!) { createCollection(input: $i) { id } }', {
      i: { name: 'nested', requests: [{ name: 'r', method: 'POST', url: 'https://example.com', body }] },
    });
    expect(a.body.errors, a.text).toBeUndefined();
  });
});

describe('names: no control or bidi characters', () => {
  const bad = [
    'prod\u202Egnp.exe',
    'a\rb',
    'line\nBcc: x',
    'tab\there',
    'del\u007f',
    'c1\u0085',
    'iso\u2066x\u2069',
    'mark\u200F',
    'alm\u061C',
    'lre\u202A',
  ];

  it.each(NAME_MUTATIONS)('%s', async (_name, query, vars, field) => {
    const before = await counts();
    for (const name of bad) expectBadInput(await op(query, vars(name)), field);
    expect(await counts()).toEqual(before);
  });

  it('renameApiKey, updateCollection and acceptInvitation', async () => {
    const key = await op('mutation { generateApiKey(input: { name: "plain" }) { apiKey { id } } }');
    const id = (key.body.data!.generateApiKey as { apiKey: { id: string } }).apiKey.id;
    const collection = await op('mutation { createCollection(input: { name: "plain" }) { id } }');
    const cid = (collection.body.data!.createCollection as { id: string }).id;
    const invite = await op('mutation { inviteTeamMember(email: "bidi@example.com", name: "Bidi") { token } }');
    const token = (invite.body.data!.inviteTeamMember as { token: string }).token;
    for (const name of bad) {
      expectBadInput(await op('mutation($id: ID!, $n: String!) { renameApiKey(id: $id, name: $n) { id } }', { id, n: name }), 'name');
      expectBadInput(
        await op('mutation($id: ID!, $n: String!) { updateCollection(id: $id, input: { name: $n }) { id } }', { id: cid, n: name }),
        'input.name',
      );
      expectBadInput(
        await op('mutation($t: String!, $n: String!) { acceptInvitation(token: $t, keyName: $n) { secret } }', { t: token, n: name }, null),
        'keyName',
      );
    }
    // Ordinary names still pass: accents, emoji, right-to-left scripts.
    for (const name of ['Zoë’s key 🔑', 'مفتاح الإنتاج', 'a - b (c)']) {
      const ok = await op('mutation($id: ID!, $n: String!) { renameApiKey(id: $id, name: $n) { name } }', { id, n: name });
      expect(ok.body.errors, ok.text).toBeUndefined();
    }
  });
});

describe('request URLs', () => {
  const create = 'mutation($i: CollectionInput!) { createCollection(input: $i) { id } }';
  const withUrls = (...urls: string[]) => ({
    i: { name: 'urls', requests: urls.map((url, i) => ({ name: `r${i}`, method: 'GET', url })) },
  });

  it.each([
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    ' JavaScript:alert(1)',
    '\tjavascript:alert(1)',
    'java\nscript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'file:///etc/passwd',
    'vbscript:msgbox(1)',
    'ftp://example.com/x',
    'https:example.com',
    '//example.com/x',
    '{{baseUrl',
    'not a url',
  ])('%j is refused naming the field', async (url) => {
    expectBadInput(await op(create, withUrls('https://example.com/ok', url)), 'input.requests.1.url');
  });

  it('http(s) URLs and Postman variables pass', async () => {
    const a = await op(
      create,
      withUrls('https://api.example.com/users?x=1', 'http://localhost:8080/a', 'HTTPS://EXAMPLE.COM/', '{{baseUrl}}/users', '{{base_url}}'),
    );
    expect(a.body.errors, a.text).toBeUndefined();
  });
});

describe('cursors and after ids are checked before use', () => {
  const cursor = (c: unknown) => Buffer.from(JSON.stringify(c)).toString('base64url');
  const badCursors = [
    cursor({ v: 'not a date', id: 'x' }),
    cursor({ v: '+275760-09-13T00:00:00.001Z', id: 'x' }),
    cursor({ v: '-271821-04-20T00:00:00.000Z', id: 'x' }),
    cursor({ v: '0000-01-01T00:00:00.000Z', id: 'x' }),
    cursor({ v: '2024-13-45T00:00:00.000Z', id: 'x' }),
    cursor({ v: '2024-02-30T00:00:00.000Z', id: 'x' }),
    cursor({ v: '2024-01-01T00:00:00.000Z', id: 'a\u0000' }),
    cursor({ v: '2024-01-01T00:00:00.000Z', id: 7 }),
    cursor({ v: 5, id: 'x' }),
    cursor([1]),
    'not-base64-json',
    'x'.repeat(5000),
  ];

  it.each([
    ['teamApiKeys', 'query($a: String) { teamApiKeys(after: $a) { totalCount } }'],
    ['teamApiKeys OLDEST', 'query($a: String) { teamApiKeys(after: $a, orderBy: OLDEST) { totalCount } }'],
    ['teamApiKeys RECENTLY_USED', 'query($a: String) { teamApiKeys(after: $a, orderBy: RECENTLY_USED) { totalCount } }'],
    ['notifications', 'query($a: String) { notifications(after: $a) { totalCount } }'],
  ])('%s', async (_name, query) => {
    for (const a of badCursors) expectBadInput(await op(query, { a }), 'after');
    // A null date is a RECENTLY_USED cursor only.
    if (!query.includes('RECENTLY_USED')) expectBadInput(await op(query, { a: cursor({ v: null, id: 'x' }) }), 'after');
  });

  it.each([
    ['apiKeys', 'query($a: ID) { apiKeys(after: $a) { id } }'],
    ['collections', 'query($a: ID) { collections(after: $a) { id } }'],
    ['collectionAccessKeys', 'query($a: ID) { collectionAccessKeys(after: $a) { id } }'],
    ['exposedApiKeys', 'query($a: ID) { exposedApiKeys(after: $a) { id } }'],
    ['teamMembers', 'query($a: ID) { teamMembers(after: $a) { id } }'],
  ])('%s: an id that is not in the list', async (_name, query) => {
    for (const a of ['nope', '019a0000-0000-7000-8000-000000000000', 'a'.repeat(100), member.apiKey.id === 'x' ? '' : "x'; --"]) {
      expectBadInput(await op(query, { a }), 'after');
    }
  });
});

async function counts() {
  const { prisma } = server.services;
  return { keys: await prisma.apiKey.count(), collections: await prisma.collection.count(), invitations: await prisma.invitation.count() };
}

describe('request bodies that are not JSON', () => {
  it('answer a coded error without extensions.originalError (no parser internals)', async () => {
    for (const [body, key] of [
      ['{bad', server.adminKey],
      ['[1,', server.adminKey],
      ['', server.adminKey],
      ['{"query": "{ viewer { keyKind } }"', null],
    ] as const) {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
        body,
      });
      const text = await res.text();
      expect(res.status, text).toBeLessThan(500);
      expect(JSON.parse(text).errors[0].extensions.code, text).toBe('BAD_REQUEST');
      expect(text).not.toMatch(/originalError|SyntaxError|position/);
    }
  });
});

describe('SPEC §4 order: role and plan before input', () => {
  it('a member sending hostile input to an admin field hears FORBIDDEN, an admin BAD_USER_INPUT', async () => {
    const nul = 'a\u0000b';
    const asMember = await op('mutation($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }', { ids: [nul] }, member.key);
    expect(
      asMember.body.errors?.map((e) => e.extensions?.code),
      asMember.text,
    ).toEqual(['FORBIDDEN']);
    const invite = await op('mutation($n: String!) { inviteTeamMember(email: "y@example.com", name: $n) { id } }', { n: nul }, member.key);
    expect(
      invite.body.errors?.map((e) => e.extensions?.code),
      invite.text,
    ).toEqual(['FORBIDDEN']);
    expectBadInput(await op('mutation($n: String!) { inviteTeamMember(email: "y@example.com", name: $n) { id } }', { n: nul }), 'name');
  });

  it('a field error on the offending root field only: the other root fields of the operation answer', async () => {
    const a = await op('query($id: ID!) { viewer { keyKind } apiKey(id: $id) { id } }', { id: 'x\u0000' });
    expect(a.status).toBe(200);
    expect(a.body.data).toEqual({ viewer: { keyKind: 'PERSONAL' }, apiKey: null });
    expect(a.body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(a.body.errors?.[0]?.extensions?.field).toBe('id');
  });
});

describe('one message per rule, whichever field it guards', () => {
  const answer = async (query: string) => {
    const a = await op(query);
    expect(a.body.errors?.[0]?.extensions?.code, a.text).toBe('BAD_USER_INPUT');
    return a.body.errors![0].message;
  };

  it('a whole-number range, an empty text and a length are worded alike in every service', async () => {
    const long = 'x'.repeat(2001);
    expect(
      await Promise.all([
        answer('mutation { generateApiKey(input: { name: "k", expiresInDays: 0 }) { secret } }'),
        answer('mutation { updateApiKeySettings(input: { keyExpiryDays: 4000 }) { updatedKeyCount } }'),
        answer('{ teamApiKeys(first: 501) { totalCount } }'),
        answer('{ notifications(first: -1) { totalCount } }'),
        answer('mutation { generateApiKey(input: { name: "   " }) { secret } }'),
        answer('mutation { reportExposedApiKeys(text: "nothing", location: "  ") { id } }'),
        answer(`mutation { reportExposedApiKeys(text: "nothing", location: "${long}") { id } }`),
        answer(`mutation { createCollection(input: { name: "c", description: "${long}" }) { id } }`),
      ]),
    ).toEqual([
      'input.expiresInDays: must be a whole number from 1 to 3650',
      'input.keyExpiryDays: must be a whole number from 1 to 3650',
      'first: must be a whole number from 0 to 500',
      'first: must be a whole number from 0 to 500',
      'input.name: must not be empty',
      'location: must not be empty',
      'location: must be at most 2000 characters',
      'input.description: must be at most 2000 characters',
    ]);
  });
});

describe('dates the DateTime scalar takes but the database cannot hold', () => {
  it('year 0 and past 9999 (once in UTC) are BAD_USER_INPUT naming the field, on every DateTime input', async () => {
    const { apiKey } = await addKey(server, member.user, 'dates');
    for (const at of ['0000-06-01T00:00:00Z', '9999-12-31T23:59:59-01:00']) {
      expectBadInput(
        await op(`mutation { generateApiKey(input: { name: "d", expiresAt: "${at}" }) { secret } }`, undefined, member.key),
        'input.expiresAt',
      );
      expectBadInput(
        await op(`mutation { setApiKeyExpiry(id: "${apiKey.id}", expiresAt: "${at}") { id } }`, undefined, member.key),
        'expiresAt',
      );
      expectBadInput(await op(`{ auditEvents(filter: { from: "${at}" }) { edges { cursor } } }`), 'filter.from');
    }
  });
});
