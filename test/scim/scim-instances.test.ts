// The /scim/v2 gate on two instances of one database: the gate reads the team (plan, scimEnabled)
// and the key from the verification cache, so a change made through one instance must reach the
// other within SPEC §5's second (the change feed: PostgreSQL NOTIFY, Redis or not), and the
// instance that answered the mutation must apply it at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';
import { makeTestEnv } from '../helpers/server.js';

async function post(url: string, key: string, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
}

const scimStatus = async (server: KeyplaneServer, key: string) =>
  (await fetch(server.url.replace(/\/graphql$/, '/scim/v2/ServiceProviderConfig'), { headers: { authorization: `Bearer ${key}` } })).status;

/** How long after `since` `server` answers `status` to `key` (Infinity past 3 s). */
async function reached(server: KeyplaneServer, key: string, status: number, since: number): Promise<number> {
  for (;;) {
    if ((await scimStatus(server, key)) === status) return Date.now() - since;
    if (Date.now() - since > 3_000) return Number.POSITIVE_INFINITY;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const SETTINGS = 'mutation ($on: Boolean!) { updateApiKeySettings(input: { scimEnabled: $on }) { settings { scimEnabled } } }';

describe('the /scim/v2 gate on two instances', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  let a: KeyplaneServer;
  let b: KeyplaneServer;
  let adminKey: string;

  beforeAll(async () => {
    testEnv = await makeTestEnv();
    a = await startKeyplane(loadConfig(testEnv.env));
    b = await startKeyplane(loadConfig(testEnv.env));
    adminKey = a.bootstrapKey!;
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await testEnv?.cleanup();
  });

  it('applies scimEnabled and a revocation made on A: on A from the answer, on B within 1 s', async () => {
    const generated = await post(a.url, adminKey, 'mutation { generateScimApiKey(name: "idp") { secret scimApiKey { id } } }');
    const { secret, scimApiKey } = generated.data!.generateScimApiKey;
    // A key works on every instance as soon as the mutation that created it has answered.
    expect(await scimStatus(b, secret)).toBe(403); // SCIM still off, but the key authenticates
    expect((await post(a.url, adminKey, SETTINGS, { on: true })).data?.updateApiKeySettings.settings.scimEnabled).toBe(true);
    let since = Date.now();
    expect(await scimStatus(a, secret)).toBe(200);
    expect(await reached(b, secret, 200, since)).toBeLessThan(1_000);

    // Both instances have the team cached with SCIM on: turning it off holds on A at once.
    expect(await scimStatus(b, secret)).toBe(200);
    expect((await post(a.url, adminKey, SETTINGS, { on: false })).data?.updateApiKeySettings.settings.scimEnabled).toBe(false);
    since = Date.now();
    expect(await scimStatus(a, secret)).toBe(403);
    expect(await reached(b, secret, 403, since)).toBeLessThan(1_000);

    await post(a.url, adminKey, SETTINGS, { on: true });
    expect(await reached(b, secret, 200, Date.now())).toBeLessThan(1_000);
    const revoked = await post(a.url, adminKey, 'mutation ($id: ID!) { revokeScimApiKey(id: $id) { status } }', { id: scimApiKey.id });
    expect(revoked.data?.revokeScimApiKey.status).toBe('REVOKED');
    since = Date.now();
    expect(await scimStatus(a, secret)).toBe(401);
    expect(await reached(b, secret, 401, since)).toBeLessThan(1_000);
  });
});
