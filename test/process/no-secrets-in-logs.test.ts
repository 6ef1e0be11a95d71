// Even at LOG_LEVEL=trace, no key or token reaches the log (the bootstrap key is the one line
// printed on purpose, on stdout, outside the log) — also when a resolver fails unexpectedly with
// the key written as a literal in the client's document (the document is never logged).
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../helpers/process.js';
import { makeTestEnv } from '../helpers/server.js';

type Post = (query: string, variables: object, key?: string) => Promise<{ data?: Record<string, any>; errors?: any[] }>;
const KEY_LIKE = /kp[cs]?_[0-9A-Za-z]{20,}/;

const envs: Awaited<ReturnType<typeof makeTestEnv>>[] = [];
afterAll(() => Promise.all(envs.map((e) => e.cleanup())));

function poster(url: string): Post {
  return (query, variables, key) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
      body: JSON.stringify({ query, variables }),
    }).then((r) => r.json() as Promise<{ data?: Record<string, any>; errors?: any[] }>);
}

/** Makes two writes fail inside the database, as an unexpected fault would (not a coded error). */
async function injectFaults(testEnv: Awaited<ReturnType<typeof makeTestEnv>>) {
  const sql = `
    CREATE FUNCTION kp_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected fault for the log test'; END $$;
    CREATE TRIGGER kp_test_fail BEFORE INSERT ON "ApiKeyExposure" FOR EACH ROW EXECUTE FUNCTION kp_test_fail();
    CREATE TRIGGER kp_test_fail BEFORE UPDATE ON "Invitation" FOR EACH ROW EXECUTE FUNCTION kp_test_fail();`;
  const client = new pg.Client({ connectionString: testEnv.database.url });
  await client.connect();
  await client.query(sql);
  await client.end();
}

describe.each(['trace', 'info'])('at LOG_LEVEL=%s', (level) => {
  it('logs no key, hint search or invitation token, also when resolvers fail unexpectedly', async () => {
    const testEnv = await makeTestEnv({ LOG_LEVEL: level });
    envs.push(testEnv);
    // First start: migrations and the bootstrap admin; then the faults, then the server again.
    const first = await spawnServer(testEnv.env);
    const adminKey = first.bootstrapKey!;
    let post = poster(first.url);
    const generated = await post('mutation($n: String!) { generateApiKey(input: { name: $n }) { secret } }', { n: 'logged?' }, adminKey);
    const secret = generated.data!.generateApiKey.secret as string;
    await post('query($v: String) { teamApiKeys(filter: { keyValue: $v }) { totalCount } }', { v: secret }, adminKey);
    const invited = await post('mutation { inviteTeamMember(email: "x@example.com", name: "X") { token } }', {}, adminKey);
    const token = invited.data!.inviteTeamMember.token as string;
    await post('mutation($t: String!) { acceptInvitation(token: $t, keyName: "k") { secret } }', { t: token });
    await post('{ viewer { keyKind } }', {}, `${secret.slice(0, -1)}0`);
    const second = await post('mutation { inviteTeamMember(email: "y@example.com", name: "Y") { token } }', {}, adminKey);
    const secondToken = second.data!.inviteTeamMember.token as string;
    expect(await first.stop()).toBe(0);
    let log = first.output().replace(/^Bootstrap admin key: .*$/m, '');

    await injectFaults(testEnv);
    const server = await spawnServer(testEnv.env);
    post = poster(server.url);
    try {
      // Literals in the document: the printed source around a failing field would quote them.
      const exposed = await post(
        `mutation { reportExposedApiKeys(text: "leaked ${secret}", location: "https://example.com/x") { id } }`,
        {},
        adminKey,
      );
      const accepted = await post(`mutation { acceptInvitation(token: "${secondToken}", keyName: "k2") { secret } }`, {});
      for (const failed of [exposed, accepted]) {
        expect(failed.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
        expect(failed.errors?.[0]?.message).toBe('Unexpected error.');
        expect(JSON.stringify(failed)).not.toMatch(/injected|prisma|\.ts:/i);
      }
      // Variables too.
      const viaVariables = await post(
        'mutation($t: String!, $l: String!) { reportExposedApiKeys(text: $t, location: $l) { id } }',
        { t: `leaked ${secret}`, l: 'https://example.com/y' },
        adminKey,
      );
      expect(viaVariables.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      expect(await server.stop()).toBe(0);
    }
    log += server.output();
    // The failures were logged: class, code and message, nothing of the document or of Prisma's call.
    expect(log).toMatch(/injected fault for the log test/);
    if (level === 'trace') expect(log.length).toBeGreaterThan(1000); // trace level did log
    expect(log).not.toMatch(KEY_LIKE);
    expect(log).not.toMatch(/kpinv_/);
    expect(log).not.toContain(secret.slice(-12));
    expect(log).not.toContain(secondToken.slice(-12));
    expect(log).not.toMatch(/reportExposedApiKeys\(|acceptInvitation\(|invocation|\.ts:\d+/);
  }, 120_000);
});
