// lastUsedAt is buffered (no write per request) and written in one statement per flush.
import { expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { gql } from '../helpers/client.js';
import { addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const Key = graphql(`
  query LastUsedKey($id: ID!) { apiKey(id: $id) { lastUsedAt } }
`);

const server = useTestServer();

it('records the latest use of each key once flushed', async () => {
  const a = await addUser(server, server.teamId);
  const b = await addUser(server, server.teamId);
  // Stop the periodic flush so that this test decides when the buffer is written.
  await server.services.lastUsed.stop();
  expect((await gql(server.url, Key, { id: a.apiKey.id }, { key: server.adminKey })).data!.apiKey!.lastUsedAt).toBeNull();

  const before = Date.now();
  for (let i = 0; i < 5; i++) await gql(server.url, Key, { id: a.apiKey.id }, { key: a.key });
  await gql(server.url, Key, { id: b.apiKey.id }, { key: b.key });
  const after = Date.now();
  // Not written yet: the uses wait in memory for the next flush (every 5 s).
  const row = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: a.apiKey.id } });
  expect(row.lastUsedAt).toBeNull();

  await server.services.lastUsed.flush();
  for (const id of [a.apiKey.id, b.apiKey.id]) {
    const seen = (await gql(server.url, Key, { id }, { key: server.adminKey })).data!.apiKey!.lastUsedAt!;
    expect(new Date(seen).getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(new Date(seen).getTime()).toBeLessThanOrEqual(after + 1);
  }
});
