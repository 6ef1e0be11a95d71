// A graphql-ws socket whose key stops working is closed with 4401 and a reason naming the cause.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { graphql } from '../generated/index.js';
import { gql } from '../helpers/client.js';
import { addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const Generate = graphql(`
  mutation SockGenerate($input: GenerateApiKeyInput!) { generateApiKey(input: $input) { secret apiKey { id } } }
`);
const Regenerate = graphql(`
  mutation SockRegenerate($id: ID!) { regenerateApiKey(id: $id) { secret } }
`);
const Delete = graphql(`
  mutation SockDelete($id: ID!) { deleteApiKey(id: $id) { id } }
`);
const SetEnabled = graphql(`
  mutation SockSetEnabled($id: ID!, $enabled: Boolean!) { setApiKeyEnabled(id: $id, enabled: $enabled) { id } }
`);
const SetExpiry = graphql(`
  mutation SockSetExpiry($id: ID!, $expiresAt: DateTime) { setApiKeyExpiry(id: $id, expiresAt: $expiresAt) { id } }
`);

const server = useTestServer();

/** An acknowledged graphql-ws connection, and a promise of how it gets closed. */
async function openSocket(key: string) {
  const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })),
  );
  await new Promise<void>((resolve, reject) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { 'x-api-key': key } })));
    socket.on('message', (data) => {
      if (JSON.parse(data.toString()).type === 'connection_ack') resolve();
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed before ack')));
  });
  return { socket, closed };
}

async function freshKey(ownerKey: string, input: { name: string; expiresAt?: string } = { name: 'socket key' }) {
  const res = await gql(server.url, Generate, { input }, { key: ownerKey });
  return res.data!.generateApiKey;
}

describe('4401 when the socket key stops working', () => {
  it.each([
    ['regenerated', (id: string, key: string) => gql(server.url, Regenerate, { id }, { key }), /regenerated/],
    ['deleted', (id: string, key: string) => gql(server.url, Delete, { id }, { key }), /deleted/],
    ['disabled', (id: string, key: string) => gql(server.url, SetEnabled, { id, enabled: false }, { key }), /disabled/],
  ])('%s', async (_cause, act, reason) => {
    const owner = await addUser(server, server.teamId);
    const key = await freshKey(owner.key);
    const { closed } = await openSocket(key.secret);
    const sent = Date.now();
    await act(key.apiKey.id, owner.key);
    const result = await closed;
    expect(result.code).toBe(4401);
    expect(result.reason).toMatch(reason);
    expect(result.at - sent).toBeLessThan(1_000);
  });

  it('expired (the expiry passes while connected)', async () => {
    const owner = await addUser(server, server.teamId);
    const key = await freshKey(owner.key, { name: 'brief', expiresAt: new Date(Date.now() + 1_200).toISOString() });
    const { closed } = await openSocket(key.secret);
    const result = await closed;
    expect(result).toMatchObject({ code: 4401, reason: expect.stringMatching(/expired/) });
  });

  it('an expiry moved closer while connected is honoured', async () => {
    const owner = await addUser(server, server.teamId);
    const key = await freshKey(owner.key);
    const { closed } = await openSocket(key.secret);
    await gql(server.url, SetExpiry, { id: key.apiKey.id, expiresAt: new Date(Date.now() + 800).toISOString() }, { key: owner.key });
    expect(await closed).toMatchObject({ code: 4401, reason: expect.stringMatching(/expired/) });
  });

  it('other sockets stay open', async () => {
    const owner = await addUser(server, server.teamId);
    const doomed = await freshKey(owner.key);
    const spared = await openSocket(owner.key);
    const victim = await openSocket(doomed.secret);
    await gql(server.url, Delete, { id: doomed.apiKey.id }, { key: owner.key });
    expect((await victim.closed).code).toBe(4401);
    expect(spared.socket.readyState).toBe(WebSocket.OPEN);
    spared.socket.close();
  });
});
