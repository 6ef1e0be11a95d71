// A key holds at most SUBSCRIPTIONS_PER_KEY open subscriptions, and a subscription that fails at
// its start (a skipped root field, a refusal, an invalid document) holds none: over graphql-ws and
// SSE, whatever the failure, the slot is released and the open_subscriptions gauge returns to 0.
import { describe, expect, it } from 'vitest';
import { openSse } from '../helpers/client.js';
import { addSharedCollection, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';
import { openWsSession, settle, type WsSession } from '../helpers/ws-session.js';

const PER_KEY = 25; // the default SUBSCRIPTIONS_PER_KEY
const TRIES = 30;
const LIVE = 'subscription { apiKeyRevoked { reason } }';

/** Failing starts: the query, the key it is sent with, and the error code it must answer. */
type Failure = { kind: string; query: string; key: 'member' | 'collection'; code: string };
const FAILURES: Failure[] = [
  { kind: 'skipped root field', query: 'subscription { apiKeyRevoked @skip(if: true) { reason } }', key: 'member', code: 'BAD_USER_INPUT' },
  {
    kind: 'root field skipped by a variable',
    query: 'subscription S($s: Boolean = true) { apiKeyRevoked @skip(if: $s) { reason } }',
    key: 'member',
    code: 'BAD_USER_INPUT',
  },
  {
    kind: 'root field not included (fragment)',
    query: 'subscription { ...F } fragment F on Subscription { apiKeyRevoked @include(if: false) { reason } }',
    key: 'member',
    code: 'BAD_USER_INPUT',
  },
  { kind: 'forbidden (collection access key)', query: LIVE, key: 'collection', code: 'FORBIDDEN' },
  { kind: 'invalid document', query: 'subscription { noSuchField }', key: 'member', code: 'GRAPHQL_VALIDATION_FAILED' },
  {
    kind: 'two root fields',
    query: 'subscription { apiKeyRevoked { reason } apiKeyGenerated { id } }',
    key: 'member',
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
];

const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '100000' });

async function openSubscriptionsGauge(): Promise<number> {
  const text = await (await fetch(new URL('/metrics', server.url))).text();
  return Number(/^keyplane_open_subscriptions (\d+)$/m.exec(text)![1]);
}

/** Waits until the gauge reads `value` (closes are processed asynchronously). */
async function gaugeReaches(value: number, timeoutMs = 3_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let now = await openSubscriptionsGauge();
  while (now !== value && Date.now() < deadline) {
    await settle(50);
    now = await openSubscriptionsGauge();
  }
  return now;
}

async function keys() {
  const member = await addUser(server, server.teamId);
  const shared = await addSharedCollection(server, member.key, 'slots');
  return { member: member.key, collection: shared.accessKey };
}

/** The messages of operation `id` until it ended (`error` or `complete`), or what arrived in time. */
function outcomeOf(session: WsSession, id: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  return (async () => {
    for (;;) {
      const mine = session.log.filter((m) => 'id' in m && m.id === id);
      if (
        mine.some((m) => m.type === 'error' || m.type === 'complete') ||
        session.log.some((m) => m.type === 'close') ||
        Date.now() > deadline
      ) {
        return mine;
      }
      await settle(10);
    }
  })();
}

describe('subscription slots over graphql-ws', () => {
  it('failed starts hold no slot; 25 real subscriptions then open on the same key; the gauge returns to 0', async () => {
    const k = await keys();
    const sessions = { member: await openWsSession(server.url, k.member), collection: await openWsSession(server.url, k.collection) };
    try {
      for (const failure of FAILURES) {
        const session = sessions[failure.key];
        // One after another: tries in flight at once would each hold a slot while they start.
        for (let i = 0; i < TRIES; i += 1) {
          const id = `${failure.kind}-${i}`;
          session.socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: failure.query } }));
          const messages = await outcomeOf(session, id);
          expect(JSON.stringify(messages), failure.kind).toContain(`"code":"${failure.code}"`);
          expect(messages.at(-1)!.type).toMatch(/^(error|complete)$/);
        }
        expect(
          session.log.find((m) => m.type === 'close'),
          failure.kind,
        ).toBeUndefined();
      }
      expect(await gaugeReaches(0)).toBe(0);

      // Every slot of the member's key is still free.
      const live = sessions.member;
      for (let i = 0; i < PER_KEY; i += 1) live.subscribe(`live-${i}`, LIVE);
      await settle(300);
      expect(live.log.filter((m) => 'id' in m && String(m.id).startsWith('live-'))).toEqual([]);
      expect(await openSubscriptionsGauge()).toBe(PER_KEY);
      // The cap still holds: one more is refused.
      live.subscribe('one-too-many', LIVE);
      expect(JSON.stringify(await outcomeOf(live, 'one-too-many'))).toMatch(/At most 25 subscriptions/);

      // The client completes some; closing the socket ends the rest.
      for (let i = 0; i < 5; i += 1) live.socket.send(JSON.stringify({ id: `live-${i}`, type: 'complete' }));
      expect(await gaugeReaches(PER_KEY - 5)).toBe(PER_KEY - 5);
      live.close();
      expect(await gaugeReaches(0)).toBe(0);
      expect(sessions.collection.log.find((m) => m.type === 'close')).toBeUndefined();
    } finally {
      sessions.member.close();
      sessions.collection.close();
    }
  });
});

describe('subscription slots over SSE', () => {
  it('failed starts hold no slot and never answer 500; 25 real streams then open; the gauge returns to 0', async () => {
    const k = await keys();
    for (const failure of FAILURES) {
      for (let i = 0; i < TRIES; i += 1) {
        const sse = await openSse(server.url, k[failure.key], failure.query);
        expect(sse.response.status, failure.kind).not.toBe(500);
        const text = sse.response.ok ? (await sse.readUntil('complete', 2_000)).text : await sse.response.text();
        sse.close();
        expect(text, failure.kind).toContain(`"code":"${failure.code}"`);
      }
    }
    expect(await gaugeReaches(0)).toBe(0);

    const streams = await Promise.all(Array.from({ length: PER_KEY }, () => openSse(server.url, k.member, LIVE)));
    try {
      for (const s of streams) expect(s.response.status).toBe(200);
      await settle(300);
      expect(await openSubscriptionsGauge()).toBe(PER_KEY);
      const extra = await openSse(server.url, k.member, LIVE);
      const text = extra.response.ok ? (await extra.readUntil('complete', 2_000)).text : await extra.response.text();
      extra.close();
      expect(text).toMatch(/At most 25 subscriptions/);
      // An aborted stream gives its slot back.
      streams[0]!.close();
      expect(await gaugeReaches(PER_KEY - 1)).toBe(PER_KEY - 1);
    } finally {
      for (const s of streams) s.close();
    }
    expect(await gaugeReaches(0)).toBe(0);
  });
});
