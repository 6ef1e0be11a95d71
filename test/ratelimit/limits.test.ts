// Per-key rate limit, monthly quota, the brute-force limit by address and the query abuse limits.
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { cacheMisses, codes, gql, postChunked } from '../helpers/client.js';
import { addTeam, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const LIMIT = 6;
const WINDOW = 2;

const Viewer = graphql(`
  query RlViewer { viewer { keyKind } }
`);
const Usage = graphql(`
  query RlUsage { usage { limit remaining resetAt monthlyLimit monthlyUsed monthlyResetAt } }
`);
const Generate = graphql(`
  mutation RlGenerate($name: String!) { generateApiKey(input: { name: $name }) { apiKey { id } } }
`);
const Members = graphql(`
  query RlMembers { teamMembers { id } }
`);

async function raw(url: string, body: unknown, key?: string | null) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify(body),
  });
}

function rateHeaders(headers: Headers) {
  return {
    limit: Number(headers.get('x-ratelimit-limit')),
    remaining: Number(headers.get('x-ratelimit-remaining')),
    reset: Number(headers.get('x-ratelimit-reset')),
  };
}

describe('per-key rate limit', () => {
  const server = useTestServer({ RATE_LIMIT_PER_MINUTE: String(LIMIT), RATE_LIMIT_WINDOW_SECONDS: String(WINDOW) });

  it('every response to a valid key carries X-RateLimit-*, errors included; usage agrees', async () => {
    const user = await addUser(server, server.teamId);
    const ok = await gql(server.url, Viewer, {}, { key: user.key });
    const h1 = rateHeaders(ok.headers);
    expect(h1.limit).toBe(LIMIT);
    expect(h1.remaining).toBe(LIMIT - 1);
    const nowS = Date.now() / 1000;
    expect(h1.reset).toBeGreaterThan(nowS - 1);
    expect(h1.reset).toBeLessThanOrEqual(Math.ceil(nowS + WINDOW) + 1);

    const forbidden = await gql(server.url, Members, {}, { key: user.key });
    expect(codes(forbidden)).toEqual(['FORBIDDEN']);
    expect(rateHeaders(forbidden.headers).remaining).toBe(LIMIT - 2);

    const usage = await gql(server.url, Usage, {}, { key: user.key });
    expect(usage.data!.usage).toMatchObject({ limit: LIMIT, remaining: LIMIT - 3 });
    expect(rateHeaders(usage.headers).remaining).toBe(LIMIT - 3);
    expect(Math.ceil(new Date(usage.data!.usage.resetAt).getTime() / 1000)).toBe(rateHeaders(usage.headers).reset);

    // A 401 carries none: there is no valid key to count against.
    const refused = await gql(server.url, Viewer, {}, { key: 'kp_nope' });
    expect(refused.headers.get('x-ratelimit-limit')).toBeNull();
  });

  it(`request ${LIMIT + 1} in a window is 429 with Retry-After, and a rejected mutation changes nothing`, async () => {
    const user = await addUser(server, server.teamId);
    for (let i = 0; i < LIMIT; i++) expect((await gql(server.url, Viewer, {}, { key: user.key })).status).toBe(200);
    const before = await server.services.prisma.apiKey.count({ where: { createdById: user.user.id } });
    const rejected = await gql(server.url, Generate, { name: 'should not exist' }, { key: user.key });
    expect(rejected.status).toBe(429);
    expect(codes(rejected)).toEqual(['RATE_LIMITED']);
    expect(rejected.data ?? null).toBeNull();
    const retryAfter = Number(rejected.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW);
    expect(rateHeaders(rejected.headers)).toMatchObject({ limit: LIMIT, remaining: 0 });
    expect(await server.services.prisma.apiKey.count({ where: { createdById: user.user.id } })).toBe(before);
  });

  it('the window resets', async () => {
    const user = await addUser(server, server.teamId);
    for (let i = 0; i < LIMIT; i++) await gql(server.url, Viewer, {}, { key: user.key });
    const limited = await gql(server.url, Viewer, {}, { key: user.key });
    expect(limited.status).toBe(429);
    await new Promise((r) => setTimeout(r, Number(limited.headers.get('retry-after')) * 1000 + 100));
    const again = await gql(server.url, Viewer, {}, { key: user.key });
    expect(again.status).toBe(200);
    expect(rateHeaders(again.headers).remaining).toBe(LIMIT - 1);
  });

  it('keys are limited separately', async () => {
    const a = await addUser(server, server.teamId);
    const b = await addUser(server, server.teamId);
    for (let i = 0; i <= LIMIT; i++) await gql(server.url, Viewer, {}, { key: a.key });
    expect((await gql(server.url, Viewer, {}, { key: a.key })).status).toBe(429);
    expect((await gql(server.url, Viewer, {}, { key: b.key })).status).toBe(200);
  });

  it('a batched request counts each operation; batches are small', async () => {
    const user = await addUser(server, server.teamId);
    const one = { query: '{ viewer { keyKind } }' };
    const res = await raw(server.url, [one, one, one], user.key);
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveLength(3);
    expect(rateHeaders(res.headers).remaining).toBe(LIMIT - 3);

    const tooMany = await raw(
      server.url,
      Array.from({ length: 6 }, () => one),
      user.key,
    );
    expect(tooMany.status).toBeLessThan(500);
    const body = (await tooMany.json()) as { errors: { message: string }[] };
    expect(body.errors[0].message).toMatch(/batch/i);
  });
});

describe('monthly quota', () => {
  const QUOTA = 5;
  const server = useTestServer({ MONTHLY_QUOTA_ENTERPRISE: String(QUOTA), MONTHLY_QUOTA_FREE: '3' });

  it('QUOTA_EXCEEDED (429) once the team has used it, usage stays readable, counts survive a restart', async () => {
    const team = await addTeam(server); // ENTERPRISE: QUOTA calls a month
    for (let i = 0; i < QUOTA; i++) expect((await gql(server.url, Viewer, {}, { key: team.apiKey })).status).toBe(200);

    const over = await gql(server.url, Generate, { name: 'over quota' }, { key: team.apiKey });
    expect(over.status).toBe(429);
    expect(codes(over)).toEqual(['QUOTA_EXCEEDED']);
    expect(over.errors![0].message).toMatch(/ENTERPRISE/);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await server.services.prisma.apiKey.count({ where: { teamId: team.teamId } })).toBe(1);

    const usage = await gql(server.url, Usage, {}, { key: team.apiKey });
    expect(usage.status).toBe(200);
    const now = new Date();
    expect(usage.data!.usage).toMatchObject({
      monthlyLimit: QUOTA,
      monthlyUsed: QUOTA,
      monthlyResetAt: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString(),
    });

    // Another team is not affected; a FREE team has its own quota.
    const free = await addTeam(server, 'FREE');
    const freeUsage = await gql(server.url, Usage, {}, { key: free.apiKey });
    expect(freeUsage.data!.usage).toMatchObject({ monthlyLimit: 3, monthlyUsed: 1 });

    // A clean restart loses no count.
    await server.restart();
    const after = await gql(server.url, Usage, {}, { key: team.apiKey });
    expect(after.data!.usage.monthlyUsed).toBe(QUOTA);
    expect((await gql(server.url, Members, {}, { key: team.apiKey })).status).toBe(429);
    const freeAfter = await gql(server.url, Usage, {}, { key: free.apiKey });
    expect(freeAfter.data!.usage.monthlyUsed).toBe(2);
  });
});

describe('brute force by address', () => {
  const server = useTestServer({ AUTH_FAILURES_PER_MINUTE: '4' });

  it('after N failures the address gets 429 without database work; a key it used still works', async () => {
    expect((await gql(server.url, Viewer, {}, { key: server.adminKey })).status).toBe(200);
    const forged = `kp_${'A'.repeat(30)}`;
    const { checksumOf } = await import('../../src/keys/format.js');
    const wellFormed = (i: number) => {
      const body = `${String(i).padStart(30, 'B')}`;
      return `kp_${body}${checksumOf(body)}`;
    };
    const failures = [
      gql(server.url, Viewer, {}, { key: 'garbage' }),
      gql(server.url, Viewer, {}, { key: `${forged}000000` }),
      gql(server.url, Viewer, {}, { key: wellFormed(1) }),
    ];
    for (const r of await Promise.all(failures)) expect(r.status).toBe(401);
    // A bad invitation token counts too: that is the 4th failure, still a 401.
    const invitation = await gql(
      server.url,
      graphql(`mutation RlAccept($t: String!) { acceptInvitation(token: $t, keyName: "x") { secret } }`),
      { t: 'kpinv_bogus' },
    );
    expect(invitation.status).toBe(401);

    const lookups = await cacheMisses(server.url);
    const blocked = await gql(server.url, Viewer, {}, { key: wellFormed(2) });
    expect(blocked.status).toBe(429);
    expect(codes(blocked)).toEqual(['RATE_LIMITED']);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await gql(server.url, Viewer, {}, { key: 'garbage' })).status).toBe(429);
    expect((await gql(server.url, Viewer, {}, { key: null })).status).toBe(429);
    expect(await cacheMisses(server.url)).toBe(lookups); // no database work for any of them

    // The valid key this address used still works.
    server.services.auth.forgetAll(); // even once its verification has left the cache
    expect((await gql(server.url, Viewer, {}, { key: server.adminKey })).status).toBe(200);
  });
});

const EVERY_KEY_FIELD =
  'id name hint status createdAt expiresAt lastUsedAt revokedAt revocationReason createdBy { id name email role } revokedBy { id name email role }';

describe('query abuse limits', () => {
  const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '1000' });

  // __type is not skipped as introspection by the depth limit: its ofType chain nests freely.
  const nestedOfType = `{ __type(name: "ApiKey") { ${'ofType { '.repeat(11)} name ${'} '.repeat(11)} } }`;

  it.each([
    ['depth', nestedOfType, 'maxDepth'],
    ['aliases', `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: viewer { keyKind }`).join(' ')} }`, 'maxAliases'],
    ['directives', `{ viewer { keyKind ${'@include(if: true) '.repeat(12)} } }`, 'maxDirectives'],
    ['tokens', `{ viewer { ${'keyKind '.repeat(1200)} } }`, 'maxTokens'],
    [
      'cost',
      `{ ${Array.from({ length: 3 }, (_, i) => `c${i}: teamApiKeys(first: 500) { totalCount edges { cursor node { ${EVERY_KEY_FIELD} } } }`).join(' ')} }`,
      'maxCost',
    ],
  ])('%s: a coded error naming the limit, never a 5xx', async (_name, query, limit) => {
    const res = await raw(server.url, { query }, server.adminKey);
    expect(res.status).toBeLessThan(500);
    const body = (await res.json()) as { errors?: { message: string; extensions?: Record<string, unknown> }[] };
    expect(body.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit });
    expect(body.errors?.[0].message).toMatch(/limit of \d+ exceeded/);
    expect(body.errors?.[0].message).not.toMatch(/^Syntax Error/);
  });

  it("the largest page of the largest connection runs, and SPEC's default page of notifications, and the dashboard's collections page", async () => {
    for (const query of [
      `{ teamApiKeys(first: 500) { totalCount pageInfo { hasNextPage endCursor startCursor hasPreviousPage } edges { cursor node { ${EVERY_KEY_FIELD} } } } }`,
      '{ notifications(first: 50) { totalCount unreadCount edges { cursor node { id kind message createdAt readAt apiKey { id name hint } } } } }',
      '{ notifications(first: 500) { totalCount unreadCount edges { cursor node { id kind message createdAt readAt apiKey { id name hint } } } } }',
      '{ collections { id name description requests createdAt createdBy { name } } collectionAccessKeys { id hint status createdAt revokedAt revocationReason createdBy { name } collection { name deletedAt } } }',
      `mutation { revokeApiKeys(ids: []) { revokedCount apiKeys { ${EVERY_KEY_FIELD} } } }`,
    ]) {
      const res = await raw(server.url, { query }, server.adminKey);
      const body = (await res.json()) as { errors?: unknown[] };
      expect(body.errors).toBeUndefined();
    }
  });

  // Lists without a literal `first` count as their page (the default, or the variable's value),
  // a collection's requests (up to 1 MiB of JSON) weigh far more than a scalar, and the
  // operations of one batched request share the budget.
  it.each([
    ['two default pages of collections with their requests', '{ a: collections { requests } b: collections { requests } }', undefined],
    ['a page of 100 collections with their requests', '{ collections(first: 100) { id requests } }', undefined],
    [
      "access keys with their collections' requests",
      '{ a: collectionAccessKeys { collection { requests } } b: collectionAccessKeys { collection { requests } } }',
      undefined,
    ],
    [
      'teamApiKeys pages sized by a variable',
      `query($n: Int) { ${Array.from({ length: 3 }, (_, i) => `c${i}: teamApiKeys(first: $n) { edges { node { ${EVERY_KEY_FIELD} } } }`).join(' ')} }`,
      { n: 500 },
    ],
    [
      'a page size from a variable default',
      `query($n: Int = 500) { a: teamApiKeys(first: $n) { edges { node { ${EVERY_KEY_FIELD} } } } b: teamApiKeys(first: $n) { edges { node { ${EVERY_KEY_FIELD} } } } }`,
      {},
    ],
    [
      'lists in a fragment',
      `query { ...Q } fragment Q on Query { a: collections(first: 40) { requests } b: collections(first: 40) { requests } }`,
      undefined,
    ],
  ])('cost: %s is refused', async (_name, query, variables) => {
    const res = await raw(server.url, { query, variables }, server.adminKey);
    expect(res.status).toBeLessThan(500);
    const body = (await res.json()) as { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
    expect(body.errors?.[0].extensions, JSON.stringify(body)).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxCost' });
    expect(body.errors?.[0].message).toMatch(/^Query Cost limit of \d+ exceeded, found \d+/);
  });

  it('cost: the operations of a batch share one budget', async () => {
    const page = { query: `{ teamApiKeys(first: 500) { edges { node { ${EVERY_KEY_FIELD} } } } }` };
    const res = await raw(server.url, [page, page], server.adminKey);
    const [first, second] = (await res.json()) as { errors?: { extensions?: Record<string, unknown> }[] }[];
    expect(first!.errors).toBeUndefined();
    expect(second!.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxCost' });
  });

  it('a query within the limits runs', async () => {
    const res = await raw(server.url, { query: '{ a: viewer { keyKind } b: viewer { apiKey { createdBy { id } } } }' }, server.adminKey);
    expect(((await res.json()) as { errors?: unknown }).errors).toBeUndefined();
  });

  it('a body over 2 MB is refused (413), with or without Content-Length', async () => {
    const big = JSON.stringify({ query: '{ viewer { keyKind } }', variables: { pad: 'x'.repeat(2_100_000) } });
    const declared = await raw(server.url, JSON.parse(big), server.adminKey);
    expect(declared.status).toBe(413);
    // Chunked (no Content-Length): counted as it streams.
    const bytes = new TextEncoder().encode(big);
    const chunked = await postChunked(server.url, { 'content-type': 'application/json', 'x-api-key': server.adminKey }, bytes);
    expect(chunked.status).toBe(413);
    const small = new TextEncoder().encode(JSON.stringify({ query: '{ viewer { keyKind } }' }));
    const okChunked = await postChunked(server.url, { 'content-type': 'application/json', 'x-api-key': server.adminKey }, small);
    expect(okChunked.status).toBe(200);
    expect(await okChunked.json()).toEqual({ data: { viewer: { keyKind: 'PERSONAL' } } });
  });

  it('GraphiQL introspection still works', async () => {
    const { getIntrospectionQuery } = await import('graphql');
    const res = await raw(server.url, { query: getIntrospectionQuery() }, null);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { errors?: unknown };
    expect(body.errors).toBeUndefined();
  });
});

describe('subscriptions', () => {
  const server = useTestServer({ SUBSCRIPTIONS_PER_KEY: '2', RATE_LIMIT_PER_MINUTE: '100' });

  it('opening one counts as a request; a key may hold only so many at once', async () => {
    const { wsClient } = await import('../helpers/client.js');
    const client = wsClient(server.url, server.adminKey);
    const results: unknown[] = [];
    const errors: unknown[] = [];
    const subscribe = () =>
      client.subscribe(
        { query: 'subscription { apiKeyGenerated { id } }' },
        { next: (v) => results.push(v), error: (e) => errors.push(e), complete: () => {} },
      );
    try {
      const before = (await gql(server.url, Usage, {}, { key: server.adminKey })).data!.usage.remaining;
      const stop1 = subscribe();
      subscribe();
      await new Promise((r) => setTimeout(r, 300));
      subscribe(); // the third
      await new Promise((r) => setTimeout(r, 300));
      // The refusal arrives as the subscription's only result, with a coded error.
      expect(errors).toEqual([]);
      expect(results).toHaveLength(1);
      expect(JSON.stringify(results[0])).toMatch(/RATE_LIMITED/);
      expect(JSON.stringify(results[0])).toMatch(/At most 2 subscriptions/);
      const after = (await gql(server.url, Usage, {}, { key: server.adminKey })).data!.usage.remaining;
      expect(before - after).toBe(5); // the socket (its connection_init), three subscribe attempts, this usage request
      // Closing one frees a place.
      stop1();
      await new Promise((r) => setTimeout(r, 200));
      subscribe();
      await new Promise((r) => setTimeout(r, 300));
      expect(results).toHaveLength(1);
    } finally {
      await client.dispose();
    }
  });
});

describe('/metrics', () => {
  const server = useTestServer();

  it('serves Prometheus text without keys, hints or team names', async () => {
    await gql(server.url, Viewer, {}, { key: server.adminKey });
    await gql(server.url, Viewer, {}, { key: 'kp_bad' });
    const res = await fetch(new URL('/metrics', server.url));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/keyplane_requests_total\{outcome="ok"\} \d+/);
    expect(text).toMatch(/keyplane_auth_failures_total\{reason="malformed"\} 1/);
    expect(text).toMatch(/keyplane_verification_cache_(hits|misses) \d+/);
    expect(text).toMatch(/keyplane_http_request_duration_seconds_bucket/);
    expect(text).toMatch(/keyplane_open_subscriptions 0/);
    expect(text).not.toContain(server.adminKey.slice(-4));
    expect(text).not.toContain('kp_');
    expect(text).not.toContain('My team');
  });
});
