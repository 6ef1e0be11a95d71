// Even at LOG_LEVEL=trace, no key or token reaches the log (the bootstrap key is the one line
// printed on purpose, on stdout, outside the log).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnServer } from '../helpers/process.js';
import { makeTestEnv } from '../helpers/server.js';

let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
beforeAll(async () => {
  testEnv = await makeTestEnv({ LOG_LEVEL: 'trace' });
});
afterAll(() => testEnv?.cleanup());

it('logs no key, hint search or invitation token at trace level', async () => {
  const server = await spawnServer(testEnv.env);
  const post = (query: string, variables: object, key?: string) =>
    fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
      body: JSON.stringify({ query, variables }),
    }).then((r) => r.json() as Promise<{ data?: Record<string, any> }>);
  try {
    const key = server.bootstrapKey!;
    const generated = await post('mutation($n: String!) { generateApiKey(input: { name: $n }) { secret } }', { n: 'logged?' }, key);
    const secret = generated.data!.generateApiKey.secret as string;
    await post('query($v: String) { teamApiKeys(filter: { keyValue: $v }) { totalCount } }', { v: secret }, key);
    const invited = await post('mutation { inviteTeamMember(email: "x@example.com", name: "X") { token } }', {}, key);
    const token = invited.data!.inviteTeamMember.token as string;
    await post('mutation($t: String!) { acceptInvitation(token: $t, keyName: "k") { secret } }', { t: token });
    await post('{ viewer { keyKind } }', {}, `${secret.slice(0, -1)}0`);
  } finally {
    await server.stop();
  }
  const log = server.output().replace(/^Bootstrap admin key: .*$/m, '');
  expect(log.length).toBeGreaterThan(1000); // trace level did log
  expect(log).not.toMatch(/kp[cs]?_[0-9A-Za-z]{20,}/);
  expect(log).not.toMatch(/kpinv_/);
});
