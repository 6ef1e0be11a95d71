// A read-only collection access key does not see team members (SPEC §4): whatever path a query
// takes to a User (or to a member's personal key), the answer is FORBIDDEN, and no name, email or
// role of a member appears anywhere in the response.
import { parse } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { codes, gql, openSse, wsClient } from '../helpers/client.js';
import { addSharedCollection, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const MEMBER = '{ id name email role }';

/**
 * Every path by which a query can reach a User, with what a collection access key gets: FORBIDDEN,
 * or null where there is no User to show (its own key is not revoked; it stands for no user).
 */
const PATHS: [name: string, query: string, expected: 'FORBIDDEN' | 'null'][] = [
  ['viewer.accessKey.createdBy', `{ viewer { accessKey { id createdBy ${MEMBER} } } }`, 'FORBIDDEN'],
  [
    'viewer.accessKey.createdBy through the KeyRecord interface',
    `{ viewer { accessKey { ... on KeyRecord { createdBy ${MEMBER} } } } }`,
    'FORBIDDEN',
  ],
  ['viewer.accessKey.revokedBy (own key: live, so null)', `{ viewer { accessKey { id revokedBy ${MEMBER} } } }`, 'null'],
  [
    'viewer.accessKey.collection.createdBy',
    `query($id: ID!) { viewer { accessKey { collection { createdBy ${MEMBER} } } } collection(id: $id) { id } }`,
    'FORBIDDEN',
  ],
  ['collection(id).createdBy', `query($id: ID!) { collection(id: $id) { id name createdBy ${MEMBER} } }`, 'FORBIDDEN'],
  ['viewer.user (null: it stands for no user)', `{ viewer { user ${MEMBER} } }`, 'null'],
  ['viewer.apiKey.createdBy (null: not a personal key)', `{ viewer { apiKey { createdBy ${MEMBER} } } }`, 'null'],
  ['teamMembers', `{ teamMembers ${MEMBER} }`, 'FORBIDDEN'],
  ['apiKeys.createdBy', `{ apiKeys { createdBy ${MEMBER} revokedBy ${MEMBER} } }`, 'FORBIDDEN'],
  ['apiKey(id).createdBy', `query($creatorKeyId: ID!) { apiKey(id: $creatorKeyId) { createdBy ${MEMBER} } }`, 'FORBIDDEN'],
  ['teamApiKeys.edges.node.createdBy', `{ teamApiKeys { edges { node { createdBy ${MEMBER} revokedBy ${MEMBER} } } } }`, 'FORBIDDEN'],
  ['collectionAccessKeys.createdBy', `{ collectionAccessKeys { createdBy ${MEMBER} revokedBy ${MEMBER} } }`, 'FORBIDDEN'],
  [
    'exposedApiKeys.apiKey.createdBy',
    `{ exposedApiKeys(includeResolved: true) { apiKey { createdBy ${MEMBER} } accessKey { createdBy ${MEMBER} } } }`,
    'FORBIDDEN',
  ],
  [
    'notifications.edges.node.apiKey.createdBy',
    `{ notifications { edges { node { apiKey { createdBy ${MEMBER} } accessKey { createdBy ${MEMBER} } } } } }`,
    'FORBIDDEN',
  ],
];

let creator: Awaited<ReturnType<typeof addUser>>;
let collectionId: string;
let accessKey: string;

const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '10000' });
beforeAll(async () => {
  creator = await addUser(server, server.teamId, 'TEAM_ADMIN');
  ({ collectionId, accessKey } = await addSharedCollection(server, creator.key, 'Shared'));
});

/** Nothing about the creator in a response: no name, no email, no role, no User fields at all. */
function expectNoMember(body: unknown) {
  const text = JSON.stringify(body);
  expect(text).not.toContain(creator.user.email);
  expect(text).not.toContain(creator.user.name);
  expect(text).not.toContain('TEAM_ADMIN');
  expect(text).not.toMatch(/"(email|role)":/);
}

describe('a collection access key does not see team members', () => {
  it.each(PATHS)('%s', async (_name, query, expected) => {
    const res = await gql(server.url, parse(query), { id: collectionId, creatorKeyId: creator.apiKey.id }, { key: accessKey });
    expect(res.status).toBe(200);
    expectNoMember(res);
    if (expected === 'FORBIDDEN') expect(codes(res)).toContain('FORBIDDEN');
    else expect(res.errors).toBeUndefined();
  });

  it('the same over graphql-ws', async () => {
    const client = wsClient(server.url, accessKey);
    try {
      for (const [, query, expected] of PATHS) {
        const result = await new Promise<{ data?: unknown; errors?: { extensions?: { code?: unknown } }[] }>((resolve, reject) => {
          let got: unknown;
          client.subscribe(
            { query, variables: { id: collectionId, creatorKeyId: creator.apiKey.id } },
            {
              next: (value) => (got = value),
              error: reject,
              complete: () => resolve(got as never),
            },
          );
        });
        expectNoMember(result);
        if (expected === 'FORBIDDEN') expect(codes(result)).toContain('FORBIDDEN');
      }
    } finally {
      await client.dispose();
    }
  });

  it('apiKeyRevoked { revokedBy } over SSE is refused', async () => {
    const sse = await openSse(
      server.url,
      accessKey,
      `subscription { apiKeyRevoked { revokedBy ${MEMBER} apiKey { createdBy ${MEMBER} } } }`,
    );
    const { text } = await sse.readUntil('complete', 2_000);
    sse.close();
    expect(text).toContain('FORBIDDEN');
    expectNoMember(text);
  });

  it('the creator still sees members (a personal key)', async () => {
    const res = await gql(
      server.url,
      parse(`query($id: ID!) { collection(id: $id) { createdBy ${MEMBER} } viewer { apiKey { createdBy { email } } } }`),
      { id: collectionId },
      { key: creator.key },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data).toMatchObject({ collection: { createdBy: { email: creator.user.email, role: 'TEAM_ADMIN' } } });
  });
});
