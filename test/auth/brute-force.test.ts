// The brute-force limit by address (SPEC §4): after AUTH_FAILURES_PER_MINUTE failures an address
// gets 429 for guesses, at no database cost, while any valid key still works from it at once,
// even one it never used, even right after a restart (issue 14, finding 3).

import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { checksumOf } from '../../src/keys/format.js';
import { cacheMisses, codes, gql } from '../helpers/client.js';
import { addUser, revokeKeys } from '../helpers/fixtures.js';
import { type TestServer, useTestServer } from '../helpers/server.js';

const LIMIT = 4;

const Viewer = parse('query BfViewer { viewer { keyKind } }') as TypedDocumentNode<{ viewer: { keyKind: string } }, object>;
const Generate = parse('mutation BfGenerate($name: String!) { generateApiKey(input: { name: $name }) { secret } }') as TypedDocumentNode<
  { generateApiKey: { secret: string } },
  { name: string }
>;

/** A key with a valid checksum that was never issued (anyone can compute a CRC32). */
function guess(): string {
  let body = '';
  for (let i = 0; i < 30; i++) body += 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[Math.floor(Math.random() * 52)];
  return `kp_${body}${checksumOf(body)}`;
}

async function block(server: TestServer) {
  for (let i = 0; i < LIMIT; i++) await gql(server.url, Viewer, {}, { key: guess() });
  const blocked = await gql(server.url, Viewer, {}, { key: guess() });
  expect(blocked.status).toBe(429);
  expect(codes(blocked)).toEqual(['RATE_LIMITED']);
}

describe('brute-force block and valid keys', () => {
  const server = useTestServer({ AUTH_FAILURES_PER_MINUTE: String(LIMIT), RATE_LIMIT_PER_MINUTE: '1000' });

  it('a burst of concurrent checksum-valid guesses costs at most AUTH_FAILURES_PER_MINUTE reads', async () => {
    const before = await cacheMisses(server.url);
    const statuses = await Promise.all(Array.from({ length: 3 * LIMIT }, () => gql(server.url, Viewer, {}, { key: guess() })));
    expect((await cacheMisses(server.url)) - before).toBeLessThanOrEqual(LIMIT);
    // All statuses at once, so that a failure says what came instead (a 503 of a read that timed out?).
    expect(statuses.map((r) => r.status).sort()).toEqual([...Array(LIMIT).fill(401), ...Array(2 * LIMIT).fill(429)]);
  });

  it('guesses that arrive together (one tick) are counted before their reads, not after', async () => {
    // The gate itself, as every transport calls it: all start before any read has answered.
    const before = await cacheMisses(server.url);
    const outcomes = await Promise.all(Array.from({ length: 3 * LIMIT }, () => server.services.gate.authenticate(guess(), '192.0.2.1')));
    expect((await cacheMisses(server.url)) - before).toBe(LIMIT);
    expect(outcomes.filter((o) => !o.ok && o.reason === 'unknown')).toHaveLength(LIMIT);
    expect(outcomes.filter((o) => !o.ok && o.reason === 'blocked')).toHaveLength(2 * LIMIT);
  });

  it('from a blocked address, a valid key it never used works at once; guesses cost no read', async () => {
    await block(server);
    // Issued without ever being used over HTTP, nor verified by this server.
    const member = await addUser(server, server.teamId);
    expect((await gql(server.url, Viewer, {}, { key: member.key })).status).toBe(200);
    // Issued through the API (by the admin, from the blocked address) and used at once.
    const generated = await gql(server.url, Generate, { name: 'fresh' }, { key: server.adminKey });
    expect(generated.status).toBe(200);
    expect((await gql(server.url, Viewer, {}, { key: generated.data!.generateApiKey.secret })).status).toBe(200);

    const lookups = await cacheMisses(server.url);
    for (let i = 0; i < 20; i++) expect((await gql(server.url, Viewer, {}, { key: guess() })).status).toBe(429);
    expect(await cacheMisses(server.url)).toBe(lookups);
  });

  it('a revoked key is out of the index: from a blocked address it costs no read either', async () => {
    const member = await addUser(server, server.teamId);
    await revokeKeys(server, server.adminKey, [member.apiKey.id]);
    server.services.auth.forgetAll();
    const lookups = await cacheMisses(server.url);
    expect((await gql(server.url, Viewer, {}, { key: member.key })).status).toBe(429);
    expect(await cacheMisses(server.url)).toBe(lookups);
  });

  it('after a restart, the super admin is not locked out by bad keys from its address', async () => {
    await server.restart();
    await block(server);
    expect((await gql(server.url, Viewer, {}, { key: server.adminKey })).status).toBe(200);
  });
});
