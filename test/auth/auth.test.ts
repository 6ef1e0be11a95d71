// Authentication over HTTP: every failure is UNAUTHENTICATED with HTTP 401 and says why.
import { describe, expect, it } from 'vitest';
import { generateKey } from '../../src/keys/format.js';
import { graphql } from '../generated/index.js';
import { cacheMisses, codes, gql } from '../helpers/client.js';
import { useTestServer } from '../helpers/server.js';

const ViewerQuery = graphql(`
  query AuthViewer {
    viewer {
      keyKind
      user { id role }
      team { id plan }
    }
  }
`);

const server = useTestServer();

async function expect401(key: string | null, reason: string, message: RegExp) {
  const lookupsBefore = await cacheMisses(server.url);
  const res = await gql(server.url, ViewerQuery, {}, { key });
  expect(res.status).toBe(401);
  expect(res.data ?? null).toBeNull();
  expect(codes(res)).toEqual(['UNAUTHENTICATED']);
  expect(res.errors![0].message).toMatch(message);
  if (reason !== 'missing') expect(res.errors![0].extensions?.reason).toBe(reason);
  return (await cacheMisses(server.url)) - lookupsBefore;
}

describe('X-API-Key authentication', () => {
  it('accepts a valid key, with the header name in any case', async () => {
    const res = await gql(server.url, ViewerQuery, {}, { headers: { 'X-Api-KEY': server.adminKey } });
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
    expect(res.data!.viewer).toMatchObject({ keyKind: 'PERSONAL', user: { role: 'SUPER_ADMIN' }, team: { plan: 'ENTERPRISE' } });
  });

  it('refuses a request without a key', async () => {
    await expect401(null, 'missing', /missing api key.*x-api-key/i);
  });

  it('refuses a malformed key without touching the database', async () => {
    expect(await expect401('not-a-key', 'malformed', /malformed/i)).toBe(0);
    expect(await expect401(`${server.adminKey}x`, 'malformed', /malformed/i)).toBe(0);
  });

  it('refuses a key with a wrong checksum without touching the database', async () => {
    const good = server.adminKey;
    const last = good.at(-1) === 'A' ? 'B' : 'A';
    expect(await expect401(good.slice(0, -1) + last, 'checksum', /checksum/i)).toBe(0);
  });

  it('refuses a well-formed key that was never issued', async () => {
    expect(await expect401(generateKey('PERSONAL'), 'unknown', /unknown api key/i)).toBe(1);
  });

  it('answers 401 for a bad key even on an operation that needs none', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'kp_nope' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(res.status).toBe(401);
  });

  it('treats an empty X-API-Key header as no key (GraphiQL before the key is filled in)', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': '' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(res.status).toBe(200);
    expect((await gql(server.url, ViewerQuery, {}, { headers: { 'x-api-key': ' ' } })).status).toBe(401);
  });

  it('lets introspection through without a key', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });

  it('serves GraphiQL from the server itself (no CDN) at /graphql', async () => {
    const res = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Keyplane');
    expect(html).not.toMatch(/<script[^>]+src="https?:\/\//);
    expect(html).not.toMatch(/<link[^>]+href="https?:\/\//);
  });

  it('answers /healthz when the database answers', async () => {
    const res = await fetch(new URL('/healthz', server.url));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});
