// POST /scanner/github: bodies signed by a test key pair are accepted and labelled; a tampered
// body, an unknown key id or missing headers are 401 and record nothing.
import { generateKeyPairSync, hash, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { generateKey } from '../../src/keys/format.js';
import { postChunked } from '../helpers/client.js';
import { addUser, revokeKeys } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KEY_ID = 'test-key-1';

const server = useTestServer({
  GITHUB_SCANNING_PUBLIC_KEYS: JSON.stringify({
    public_keys: [{ key_identifier: KEY_ID, key: publicKey.export({ type: 'spki', format: 'pem' }), is_current: true }],
  }),
});
const intake = () => server.url.replace(/\/graphql$/, '/scanner/github');

function post(body: string, headers: Record<string, string>) {
  return fetch(intake(), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

const signed = (body: string, key = privateKey) => ({
  'Github-Public-Key-Identifier': KEY_ID,
  'Github-Public-Key-Signature': sign('sha256', Buffer.from(body), { key, dsaEncoding: 'der' }).toString('base64'),
});

describe('POST /scanner/github', () => {
  it('labels live keys true_positive and everything else false_positive, and records the exposures', async () => {
    const live = await addUser(server, server.teamId);
    const revoked = await addUser(server, server.teamId);
    await revokeKeys(server, server.adminKey, [revoked.apiKey.id]);
    const unknown = generateKey('PERSONAL');
    const tokens = [live.key, revoked.key, unknown, 'kp_not_even_close'];
    const body = JSON.stringify(
      tokens.map((token, i) => ({ token, type: 'keyplane_api_key', url: `https://github.com/o/r/blob/main/f${i}`, source: 'content' })),
    );
    const res = await post(body, signed(body));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(
      tokens.map((token, i) => ({
        token_hash: hash('sha256', token, 'hex'),
        token_type: 'keyplane_api_key',
        label: i === 0 ? 'true_positive' : 'false_positive',
      })),
    );
    const exposures = await server.services.prisma.apiKeyExposure.findMany({
      where: { keyId: { in: [live.apiKey.id, revoked.apiKey.id] } },
    });
    expect(exposures.map((e) => [e.keyId, e.location, e.source, e.resolvedAt === null]).sort()).toEqual(
      [
        [live.apiKey.id, 'https://github.com/o/r/blob/main/f0', 'github:content', true],
        [revoked.apiKey.id, 'https://github.com/o/r/blob/main/f1', 'github:content', false],
      ].sort(),
    );
  });

  it('refuses a tampered body, another key, an unknown key id and missing headers with 401, recording nothing', async () => {
    const victim = await addUser(server, server.teamId);
    const body = JSON.stringify([{ token: victim.key, type: 'keyplane_api_key', url: 'https://x', source: 'content' }]);
    const tampered = body.replace('https://x', 'https://y');
    const attempts = [
      post(tampered, signed(body)),
      post(body, signed(body, other.privateKey)),
      post(body, { ...signed(body), 'Github-Public-Key-Identifier': 'unknown' }),
      post(body, {}),
      post(body, { 'Github-Public-Key-Identifier': KEY_ID }),
    ];
    for (const res of await Promise.all(attempts)) expect(res.status).toBe(401);
    expect(await server.services.prisma.apiKeyExposure.count({ where: { keyId: victim.apiKey.id } })).toBe(0);
  });

  it('answers 400 with a JSON error to a signed body that is not the expected array, recording nothing', async () => {
    const live = await addUser(server, server.teamId);
    const item = (over: Record<string, unknown> = {}) => ({
      token: live.key,
      type: 'keyplane_api_key',
      url: 'https://github.com/o/r',
      source: 'content',
      ...over,
    });
    const bodies = [
      JSON.stringify({ token: 'x' }),
      'not json',
      '',
      JSON.stringify([item({ url: 7 })]),
      JSON.stringify([item({ token: 'x'.repeat(201) })]),
      JSON.stringify(Array.from({ length: 1001 }, () => item())),
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      // NUL and unpaired surrogates, raw in the JSON text as escapes
      JSON.stringify([item({ url: 'https://github.com/o/r/@@' })]).replace('@@', '\\u0000'),
      JSON.stringify([item({ url: 'https://github.com/o/r/@@' })]).replace('@@', '\\ud800'),
      JSON.stringify([item({ source: '@@' })]).replace('@@', '\\udfff'),
      JSON.stringify([item({ token: `${live.key}@@` })]).replace('@@', '\\u0000'),
    ];
    for (const body of bodies) {
      const res = await post(body, signed(body));
      expect(res.status, body.slice(0, 80)).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(((await res.json()) as { message: string }).message).toEqual(expect.any(String));
    }
    expect(await server.services.prisma.apiKeyExposure.count({ where: { keyId: live.apiKey.id } })).toBe(0);
  });

  it('answers 413 with a JSON body to a body over 1 MB, with or without Content-Length, and the connection still answers', async () => {
    const big = JSON.stringify([{ token: 'x', type: 't', url: 'u', source: 'x'.repeat(1_100_000) }]);
    const declared = await post(big, signed(big));
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { message: string }).message).toMatch(/1000000 bytes/);

    const bytes = new TextEncoder().encode(`${big}${' '.repeat(3_000_000)}`);
    const chunked = await postChunked(intake(), { 'content-type': 'application/json', ...signed(big) }, bytes);
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toEqual({ message: expect.stringMatching(/bytes/) });

    // The server is none the worse for it.
    const ok = JSON.stringify([]);
    expect((await post(ok, signed(ok))).status).toBe(200);
  });
});

describe('GITHUB_SCANNING_PUBLIC_KEYS', () => {
  it('a bad value stops the start, naming the variable', () => {
    for (const value of ['{"public_keys": []}', '/no/such/file.json', '{"public_keys": [{"key_identifier": "a", "key": "nope"}]}']) {
      expect(() => loadConfig({ GITHUB_SCANNING_PUBLIC_KEYS: value })).toThrow(/GITHUB_SCANNING_PUBLIC_KEYS/);
    }
  });
});
