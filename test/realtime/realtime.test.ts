// graphql-ws on the HTTP port and path, authenticated from connectionParams; SSE on the same path.
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gql, openSse, wsClient, wsCloseOf } from '../helpers/client.js';
import { addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const Generate = graphql(`
  mutation RealtimeGenerate($name: String!) {
    generateApiKey(input: { name: $name }) { apiKey { id } }
  }
`);
const OnGenerated = graphql(`
  subscription RealtimeOnGenerated { apiKeyGenerated { id name hint createdBy { id } } }
`);

const server = useTestServer();

/** Collects the first `count` events of a subscription. */
function firstEvents<T>(client: ReturnType<typeof wsClient>, query: string, count: number): Promise<T[]> {
  const got: T[] = [];
  return new Promise<T[]>((resolve, reject) => {
    const unsubscribe = client.subscribe<T>(
      { query },
      {
        next: (value) => {
          got.push(value.data as T);
          if (got.length === count) {
            unsubscribe();
            resolve(got);
          }
        },
        error: reject,
        complete: () => resolve(got),
      },
    );
  });
}

const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

describe('graphql-ws', () => {
  it('refuses a connection without a key with 4401 and a reason', async () => {
    const closed = await wsCloseOf(server.url, {});
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/missing api key/i);
  });

  it('refuses a malformed or unknown key with 4401 naming the problem', async () => {
    expect(await wsCloseOf(server.url, { 'x-api-key': 'kp_short' })).toMatchObject({
      code: 4401,
      reason: expect.stringMatching(/malformed/i),
    });
    const tampered = server.adminKey.slice(0, -1) + (server.adminKey.endsWith('0') ? '1' : '0');
    expect(await wsCloseOf(server.url, { 'x-api-key': tampered })).toMatchObject({
      code: 4401,
      reason: expect.stringMatching(/checksum/i),
    });
  });

  it('answers queries and pushes apiKeyGenerated to the owner and to admins, not to other members', async () => {
    const alice = await addUser(server, server.teamId);
    const bob = await addUser(server, server.teamId);
    const adminWs = wsClient(server.url, server.adminKey);
    const aliceWs = wsClient(server.url, alice.key);
    const bobWs = wsClient(server.url, bob.key);
    try {
      const viewer = await new Promise((resolve, reject) =>
        aliceWs.subscribe({ query: '{ viewer { keyKind user { id } } }' }, { next: resolve, error: reject, complete: () => {} }),
      );
      expect(viewer).toEqual({ data: { viewer: { keyKind: 'PERSONAL', user: { id: alice.user.id } } } });

      const forAdmin = firstEvents<{ apiKeyGenerated: { name: string } }>(
        adminWs,
        'subscription { apiKeyGenerated { name createdBy { id } } }',
        2,
      );
      const forAlice = firstEvents<{ apiKeyGenerated: { name: string } }>(aliceWs, 'subscription { apiKeyGenerated { name } }', 1);
      const bobGot: unknown[] = [];
      bobWs.subscribe(
        { query: 'subscription { apiKeyGenerated { name } }' },
        { next: (v) => bobGot.push(v), error: () => {}, complete: () => {} },
      );
      await settle(); // the subscriptions are live once the server has processed them

      await gql(server.url, Generate, { name: 'alice-live' }, { key: alice.key });
      await gql(server.url, Generate, { name: 'admin-live' }, { key: server.adminKey });

      expect((await forAlice).map((e) => e.apiKeyGenerated.name)).toEqual(['alice-live']);
      expect((await forAdmin).map((e) => e.apiKeyGenerated.name)).toEqual(['alice-live', 'admin-live']);
      await settle(100);
      expect(bobGot).toEqual([]);
    } finally {
      await Promise.all([adminWs.dispose(), aliceWs.dispose(), bobWs.dispose()]);
    }
  });
});

describe('GraphQL over SSE', () => {
  it('streams apiKeyGenerated with the X-API-Key header', async () => {
    const sse = await openSse(server.url, server.adminKey, 'subscription { apiKeyGenerated { name } }');
    expect(sse.response.status).toBe(200);
    expect(sse.response.headers.get('content-type')).toMatch(/text\/event-stream/);
    setTimeout(() => void gql(server.url, Generate, { name: 'over-sse' }, { key: server.adminKey }), 200);
    const { text } = await sse.readUntil('over-sse');
    sse.close();
    expect(text).toContain('event: next');
    expect(text).toContain('{"data":{"apiKeyGenerated":{"name":"over-sse"}}}');
  });

  it('refuses an SSE subscription without a key with 401', async () => {
    const sse = await openSse(server.url, null, 'subscription { apiKeyGenerated { name } }');
    expect(sse.response.status).toBe(401);
  });
});
