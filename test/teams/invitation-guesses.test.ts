// Invitation tokens are credentials (SPEC §4): guesses count toward the address's failure limit
// before the database is read, so aliases and batches cannot multiply the reads.
import { expect, it } from 'vitest';
import { useTestServer } from '../helpers/server.js';

const server = useTestServer({ AUTH_FAILURES_PER_MINUTE: '3' });

const post = async (body: unknown) => {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { errors?: { extensions?: { code?: string } }[] } };
};

it('concurrent batches of guesses: exactly AUTH_FAILURES_PER_MINUTE are read, the rest refused unread', async () => {
  const guess = (i: number) => ({ query: `mutation { acceptInvitation(token: "kpinv_guess${i}", keyName: "k") { secret } }` });
  // 4 requests at once, each a batch of 5 operations: 20 guesses racing the limit of 3.
  const batches = await Promise.all([0, 1, 2, 3].map((b) => post([0, 1, 2, 3, 4].map((i) => guess(b * 5 + i)))));
  const codes = batches.flatMap(({ body }) =>
    (body as unknown as { errors?: { extensions?: { code?: string } }[] }[]).map((r) => r.errors?.[0]?.extensions?.code),
  );
  expect(codes).toHaveLength(20);
  expect(codes.filter((c) => c === 'UNAUTHENTICATED')).toHaveLength(3);
  expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(17);
  // The address is now blocked for anonymous requests, while a valid key from it still works.
  expect((await post(guess(99))).status).toBe(429);
  const viewer = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': server.adminKey },
    body: JSON.stringify({ query: '{ viewer { keyKind } }' }),
  });
  expect(viewer.status).toBe(200);
});
