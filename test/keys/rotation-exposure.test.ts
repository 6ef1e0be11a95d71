// A rotation's overlap never extends a leaked secret, and the admin finds a key by either of its
// working secrets (review findings on the rotation work).
import { describe, expect, it } from 'vitest';
import { addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

async function post(url: string, key: string, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: answers of several shapes, checked field by field
  return { status: res.status, ...((await res.json()) as { data?: any; errors?: any[] }) };
}

const REPORT = 'mutation ($t: String!) { reportExposedApiKeys(text: $t, location: "https://paste.example/x") { id resolved } }';
const REGENERATE =
  'mutation ($id: ID!, $m: Int) { regenerateApiKey(id: $id, overlapMinutes: $m) { secret apiKey { previousSecretExpiresAt } } }';
const BY_VALUE = 'query ($v: String!) { teamApiKeys(filter: { keyValue: $v, statuses: [ENABLED] }) { totalCount edges { node { id } } } }';

describe('rotation and exposures', () => {
  const server = useTestServer();

  it('an exposed key cannot keep its old secret: BAD_USER_INPUT, the finding stays open, the secret still ends with 0', async () => {
    const member = await addUser(server, server.teamId);
    const reported = await post(server.url, server.adminKey, REPORT, { t: `oops ${member.key}` });
    expect(reported.data.reportExposedApiKeys).toHaveLength(1);

    const refused = await post(server.url, member.key, REGENERATE, { id: member.apiKey.id, m: 60 });
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toMatch(/overlapMinutes/);
    expect((await post(server.url, member.key, '{ viewer { keyKind } }')).status).toBe(200); // nothing changed
    const open = await post(server.url, server.adminKey, '{ exposedApiKeys { apiKey { id } resolved } }');
    expect(open.data.exposedApiKeys).toEqual([{ apiKey: { id: member.apiKey.id }, resolved: false }]);

    const rotated = await post(server.url, member.key, REGENERATE, { id: member.apiKey.id, m: 0 });
    expect(rotated.errors).toBeUndefined();
    expect(rotated.data.regenerateApiKey.apiKey.previousSecretExpiresAt).toBeNull();
    expect((await post(server.url, member.key, '{ viewer { keyKind } }')).status).toBe(401);
    expect((await post(server.url, server.adminKey, '{ exposedApiKeys { id } }')).data.exposedApiKeys).toEqual([]);
  });

  it('teamApiKeys(filter: {keyValue}) finds a key by its previous secret during the overlap, with the status filter applied', async () => {
    const member = await addUser(server, server.teamId);
    const rotated = await post(server.url, member.key, REGENERATE, { id: member.apiKey.id, m: 60 });
    expect(rotated.data.regenerateApiKey.apiKey.previousSecretExpiresAt).not.toBeNull();
    for (const value of [member.key, rotated.data.regenerateApiKey.secret]) {
      const found = await post(server.url, server.adminKey, BY_VALUE, { v: value });
      expect(found.errors).toBeUndefined();
      expect(found.data.teamApiKeys).toEqual({ totalCount: 1, edges: [{ node: { id: member.apiKey.id } }] });
    }
    // The overlap's end passed: the old secret finds nothing any more.
    await server.services.prisma.apiKey.update({
      where: { id: member.apiKey.id },
      data: { previousSecretExpiresAt: new Date(Date.now() - 1_000) },
    });
    const gone = await post(server.url, server.adminKey, BY_VALUE, { v: member.key });
    expect(gone.data.teamApiKeys.totalCount).toBe(0);
  });
});
