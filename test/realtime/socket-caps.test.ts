// graphql-ws sockets are capped per key (SOCKETS_PER_KEY) and per client address
// (SOCKETS_PER_ADDRESS, sockets still waiting for connection_init included), and opening one
// counts against the key's rate limit: a refused socket is closed with 4429 and a reason. Every
// close gives its place back, also one that closes before its connection_init is answered.
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { gql } from '../helpers/client.js';
import { addUser } from '../helpers/fixtures.js';
import { type TestServer, useTestServer } from '../helpers/server.js';

const Viewer = parse('{ viewer { keyKind } }');

interface Sock {
  socket: WebSocket;
  /** resolves with 'ack', or with how the server closed the socket first */
  outcome: Promise<'ack' | { code: number; reason: string }>;
  closed: Promise<{ code: number; reason: string }>;
}

/** A raw graphql-ws socket; `key` undefined = no connection_init is sent. */
function open(server: TestServer, key?: string): Sock {
  const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const outcome = new Promise<'ack' | { code: number; reason: string }>((resolve, reject) => {
    socket.on('open', () => {
      if (key !== undefined) socket.send(JSON.stringify({ type: 'connection_init', payload: { 'x-api-key': key } }));
    });
    socket.on('message', (data) => {
      if (JSON.parse(data.toString()).type === 'connection_ack') resolve('ack');
    });
    socket.on('error', reject);
    void closed.then(resolve);
  });
  return { socket, outcome, closed };
}

/** Closes sockets and waits until the server has seen each close. */
async function closeAll(socks: Sock[]) {
  for (const s of socks) s.socket.close();
  await Promise.all(socks.map((s) => s.closed));
  await new Promise((r) => setTimeout(r, 100));
}

describe('SOCKETS_PER_KEY', () => {
  const server = useTestServer({ SOCKETS_PER_KEY: '3', RATE_LIMIT_PER_MINUTE: '10000' });

  it('a key holds 3 sockets: the 4th is closed with 4429 and a reason; closing one makes room', async () => {
    const { key } = await addUser(server, server.teamId);
    const socks = [open(server, key), open(server, key), open(server, key)];
    for (const s of socks) expect(await s.outcome).toBe('ack');
    const fourth = open(server, key);
    expect(await fourth.outcome).toEqual({ code: 4429, reason: expect.stringMatching(/sockets for this API key: at most 3/) });
    // Another key is not affected.
    const other = open(server, (await addUser(server, server.teamId)).key);
    expect(await other.outcome).toBe('ack');

    await closeAll([socks[0]!]);
    const again = open(server, key);
    expect(await again.outcome).toBe('ack');
    await closeAll([...socks.slice(1), again, other]);
  });

  it('a socket that closes before its connection_init is answered holds no place', async () => {
    // Fresh keys: their first authentication reads the database, and the close arrives meanwhile.
    const keys = await Promise.all(Array.from({ length: 5 }, () => addUser(server, server.teamId)));
    const quitters = keys.map(({ key }) => {
      const s = open(server, key);
      s.socket.on('open', () => s.socket.terminate()); // right after sending connection_init, no closing handshake
      return s;
    });
    await Promise.all(quitters.map((s) => s.closed));
    await new Promise((r) => setTimeout(r, 300));
    for (const { key } of keys) {
      const socks = [open(server, key), open(server, key), open(server, key)];
      for (const s of socks) expect(await s.outcome).toBe('ack');
      await closeAll(socks);
    }
  });
});

describe('SOCKETS_PER_ADDRESS', () => {
  const server = useTestServer({ SOCKETS_PER_ADDRESS: '4', RATE_LIMIT_PER_MINUTE: '10000' });

  it('counts every socket of the address, whatever its key; refused ones and closed ones give their place back', async () => {
    const a = (await addUser(server, server.teamId)).key;
    const b = (await addUser(server, server.teamId)).key;
    const socks = [open(server, a), open(server, a), open(server, b), open(server, b)];
    for (const s of socks) expect(await s.outcome).toBe('ack');
    const fifth = open(server, b);
    expect(await fifth.outcome).toEqual({ code: 4429, reason: expect.stringMatching(/sockets from this address: at most 4/) });
    // Refusals hold nothing: many of them, then a close makes room for exactly one.
    for (let i = 0; i < 10; i += 1) expect(await open(server, a).outcome).toMatchObject({ code: 4429 });
    await closeAll([socks[0]!]);
    const again = open(server, a);
    expect(await again.outcome).toBe('ack');
    expect(await open(server, a).outcome).toMatchObject({ code: 4429 });
    await closeAll([...socks.slice(1), again]);
  });

  it('sockets waiting for connection_init count, and are closed after 3 s (4408)', async () => {
    const idle = Array.from({ length: 4 }, () => open(server));
    await new Promise((r) => setTimeout(r, 300));
    const refused = open(server, (await addUser(server, server.teamId)).key);
    expect(await refused.outcome).toMatchObject({ code: 4429 });
    const started = Date.now();
    for (const s of idle) expect((await s.closed).code).toBe(4408);
    expect(Date.now() - started).toBeLessThan(4_000);
    await new Promise((r) => setTimeout(r, 100));
    const later = open(server, (await addUser(server, server.teamId)).key);
    expect(await later.outcome).toBe('ack');
    await closeAll([later]);
  });
});

describe('opening a socket counts against the key rate limit', () => {
  const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '4' });

  it('each successful connection_init uses one request; once used up, 4429 with the retry', async () => {
    const { key } = await addUser(server, server.teamId);
    const first = await gql(server.url, Viewer, {}, { key });
    expect(first.headers.get('x-ratelimit-remaining')).toBe('3');
    const socks = [open(server, key), open(server, key), open(server, key)];
    for (const s of socks) expect(await s.outcome).toBe('ack');
    const refused = open(server, key);
    expect(await refused.outcome).toEqual({
      code: 4429,
      reason: expect.stringMatching(/Rate limit of 4 requests per 60 s exceeded for this key: retry in \d+ s/),
    });
    expect((await gql(server.url, Viewer, {}, { key })).status).toBe(429);
    // The refusal closed only the new socket.
    for (const s of socks) expect(s.socket.readyState).toBe(WebSocket.OPEN);
    await closeAll(socks);
  });
});
