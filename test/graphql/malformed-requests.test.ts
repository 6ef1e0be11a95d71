// Malformed requests (issue 14, findings 9 and "originalError"): 400 with a coded error, nothing
// logged, and without a key they count toward the address's failure limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { makeTestEnv } from '../helpers/server.js';

let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
let server: ServerProcess;
beforeAll(async () => {
  testEnv = await makeTestEnv({ LOG_LEVEL: 'info', AUTH_FAILURES_PER_MINUTE: '6' });
  server = await spawnServer(testEnv.env);
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await testEnv?.cleanup();
});

const get = (params: string, key?: string) =>
  fetch(`${server.url}?${params}`, { headers: { accept: 'application/json', ...(key ? { 'x-api-key': key } : {}) } });

describe('malformed GET parameters', () => {
  it('answer 400 with a coded error, with a key, and log nothing', async () => {
    const before = server.output().length;
    const cases = ['variables=%7Bbad', 'extensions=xx', 'variables=%7B%22a%22%3A', 'extensions=%5B1'];
    for (const params of cases) {
      const res = await get(`query=%7B__typename%7D&${params}`, server.bootstrapKey!);
      expect(res.status, params).toBe(400);
      const body = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      expect(body.errors[0].extensions.code, params).toBe('BAD_REQUEST');
      expect(JSON.stringify(body)).not.toMatch(/originalError|SyntaxError|position/);
    }
    // A form-encoded POST goes through the same parameter parser.
    const form = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-api-key': server.bootstrapKey! },
      body: 'query=%7B__typename%7D&variables=%7Bbad',
    });
    expect(form.status).toBe(400);
    await new Promise((r) => setTimeout(r, 200));
    expect(server.output().slice(before)).not.toMatch(/"level":50|unexpected error/);
  });

  it("an invalid JSON body answers 400 without the parser's error", async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': server.bootstrapKey! },
      body: '{"query": "{ __typename }", kp_',
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).not.toMatch(/originalError|SyntaxError|kp_/);
  });

  it("without a key, count toward the address's failure limit: past it, 429", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) statuses.push((await get('query=%7B__typename%7D&variables=%7Bbad')).status);
    expect(statuses.slice(0, 6)).toEqual([400, 400, 400, 400, 400, 400]);
    expect(statuses.slice(6)).toEqual([429, 429]);
    // A valid key from that address still works (SPEC §4).
    expect((await get('query=%7B__typename%7D', server.bootstrapKey!)).status).toBe(200);
  });
});
