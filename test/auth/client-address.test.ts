// The client address behind a proxy (issue 14, finding 14): X-Forwarded-For is believed only from
// a TRUST_PROXY peer, walked from the right; the brute-force limit counts per client address, over
// HTTP and graphql-ws alike. Without TRUST_PROXY the header changes nothing.
import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { clientAddress } from '../../src/auth/client-address.js';
import { type TestServer, useTestServer } from '../helpers/server.js';

const LIMIT = 3;
const BAD_KEY = 'kp_nope';

async function status(server: TestServer, forwardedFor?: string): Promise<number> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': BAD_KEY,
      ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
    },
    body: JSON.stringify({ query: '{ viewer { keyKind } }' }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** A graphql-ws connection with a bad key: 4401 (refused) or 4429 (address blocked). */
function wsClose(server: TestServer, forwardedFor?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws', {
      headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
    });
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { 'x-api-key': BAD_KEY } })));
    socket.on('close', (code) => resolve(code));
    socket.on('error', reject);
  });
}

describe('clientAddress', () => {
  const proxies = new BlockList();
  proxies.addSubnet('10.0.0.0', 8, 'ipv4');
  proxies.addAddress('::1', 'ipv6');

  it('ignores the header from a peer that is not a listed proxy, and without TRUST_PROXY', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.1', proxies)).toBe('203.0.113.9');
    expect(clientAddress('10.0.0.1', '198.51.100.1', null)).toBe('10.0.0.1');
  });

  it('walks right to left, skipping listed proxies: the first unlisted address is the client', () => {
    expect(clientAddress('10.0.0.1', '1.1.1.1, 198.51.100.7, 10.0.0.2', proxies)).toBe('198.51.100.7');
    expect(clientAddress('::1', ['1.1.1.1', '198.51.100.7'], proxies)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.1', '10.0.0.3', proxies)).toBe('10.0.0.3'); // only proxies: the farthest
    expect(clientAddress('10.0.0.1', undefined, proxies)).toBe('10.0.0.1');
  });

  it('normalises IPv4-mapped IPv6 and ports; garbage stops the walk at the last proxy', () => {
    expect(clientAddress('::ffff:10.0.0.1', '::FFFF:198.51.100.7', proxies)).toBe('198.51.100.7');
    expect(clientAddress('::ffff:203.0.113.9', undefined, null)).toBe('203.0.113.9');
    expect(clientAddress('10.0.0.1', '198.51.100.7:5123', proxies)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.1', '[2001:DB8::1]:443', proxies)).toBe('2001:db8::1');
    expect(clientAddress('10.0.0.1', '198.51.100.7, evil\u0000, 10.0.0.2', proxies)).toBe('10.0.0.2');
    expect(clientAddress(undefined, '198.51.100.7', proxies)).toBe('unknown');
  });
});

describe('behind a trusted proxy (TRUST_PROXY=127.0.0.1)', () => {
  const server = useTestServer({ TRUST_PROXY: '127.0.0.1', AUTH_FAILURES_PER_MINUTE: String(LIMIT) });

  it('failures are counted per forwarded address over HTTP: one is blocked, another is not', async () => {
    for (let i = 0; i < LIMIT; i++) expect(await status(server, '198.51.100.1')).toBe(401);
    expect(await status(server, '198.51.100.1')).toBe(429);
    // A client cannot escape by prepending addresses: the proxy appended the real one on the right.
    expect(await status(server, '192.0.2.77, 198.51.100.1')).toBe(429);
    expect(await status(server, '198.51.100.2')).toBe(401);
    expect(await status(server)).toBe(401); // the proxy itself (no header) is not blocked either
  });

  it('and over graphql-ws', async () => {
    for (let i = 0; i < LIMIT; i++) expect(await wsClose(server, '198.51.100.3')).toBe(4401);
    expect(await wsClose(server, '198.51.100.3')).toBe(4429);
    expect(await status(server, '198.51.100.3')).toBe(429); // one address for both transports
    expect(await wsClose(server, '198.51.100.4')).toBe(4401);
  });
});

describe('without TRUST_PROXY', () => {
  const server = useTestServer({ AUTH_FAILURES_PER_MINUTE: String(LIMIT) });

  it('X-Forwarded-For is ignored: spoofing it does not escape the block (HTTP and graphql-ws)', async () => {
    for (let i = 0; i < LIMIT; i++) expect(await status(server, `198.51.100.${10 + i}`)).toBe(401);
    expect(await status(server, '198.51.100.99')).toBe(429);
    expect(await wsClose(server, '198.51.100.98')).toBe(4429);
  });
});
