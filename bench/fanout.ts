// `npm run bench:fanout`: N graphql-ws subscribers (admins of one team) on one server; revoke a
// key; time from sending the mutation until every subscriber has the event. p50/p99 over the
// revocations, for Keyplane and, in the same run, alternating, for a bare graphql-yoga +
// graphql-ws server publishing the same event (bench/bare-fanout-server.ts).
//   FANOUT_SUBSCRIBERS=1000 FANOUT_EVENTS=20 FANOUT_ROUNDS=2 npm run bench:fanout
// With DATABASE_URL (and REDIS_URL) Keyplane runs on PostgreSQL (and Redis pub/sub).
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import WebSocket from 'ws';

const SUBSCRIBERS = Number(process.env.FANOUT_SUBSCRIBERS ?? 1_000);
const EVENTS = Number(process.env.FANOUT_EVENTS ?? 20);
const ROUNDS = Number(process.env.FANOUT_ROUNDS ?? 2);
const ROOT = path.resolve(import.meta.dirname, '..');
const SELECTION = `subscription Fanout {
  apiKeyRevoked {
    apiKey { id name hint status createdAt createdBy { id name email role } }
    reason revokedAt revokedBy { id name email role }
  }
}`;

const REVOKE = 'mutation ($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }';
const BARE_REVOKE = 'mutation ($ids: [ID!]!) { revokeApiKeys(ids: $ids) }';

interface Started {
  bare: boolean;
  child: ChildProcess;
  url: string;
  adminKeys: string[];
  revokerKey: string;
  victimIds: string[];
}

function start(script: string): Promise<Started> {
  const nodeArgs = process.env.FANOUT_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    cwd: ROOT,
    env: {
      // Every subscriber connects from 127.0.0.1, some on one key: above the per-address and
      // per-key socket caps (SPEC §5), which would refuse them with 4429.
      SOCKETS_PER_ADDRESS: String(SUBSCRIBERS + 100),
      SOCKETS_PER_KEY: String(SUBSCRIBERS + 100),
      ...process.env,
      FANOUT_SUBSCRIBERS: String(SUBSCRIBERS),
      FANOUT_EVENTS: String(EVENTS + 1),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout!.setEncoding('utf8');
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"url"'));
      if (line) resolve({ bare: script.includes('bare'), child, ...(JSON.parse(line) as Omit<Started, 'child' | 'bare'>) });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}`)));
  });
}

function stop(s: Started): Promise<void> {
  return new Promise((resolve) => {
    s.child.once('exit', () => resolve());
    s.child.kill('SIGTERM');
  });
}

/** One acknowledged, subscribed socket; calls onEvent for each `next`. */
function subscriber(url: string, key: string, onEvent: () => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { 'x-api-key': key } })));
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; payload?: { errors?: unknown } };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SELECTION } }));
        resolve(socket);
      } else if (message.type === 'next') {
        if (message.payload?.errors) console.error('event with errors', JSON.stringify(message.payload.errors));
        onEvent();
      } else if (message.type === 'error') {
        console.error('subscription refused', JSON.stringify(message.payload));
      }
    });
    socket.on('error', reject);
    socket.on('close', (code, reason) => {
      if (code !== 1000 && code !== 1005) console.error(`socket closed ${code} ${reason.toString()}`);
    });
  });
}

async function revoke(s: Started, id: string): Promise<void> {
  const res = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': s.revokerKey },
    body: JSON.stringify({ query: s.bare ? BARE_REVOKE : REVOKE, variables: { ids: [id] } }),
  });
  const body = (await res.json()) as { errors?: unknown };
  if (body.errors) throw new Error(`revoke failed: ${JSON.stringify(body.errors)}`);
}

/** Milliseconds from sending each revocation until the last subscriber had its event. */
async function measure(script: string): Promise<number[]> {
  const s = await start(script);
  let received = 0;
  let waiting: (() => void) | null = null;
  let target = 0;
  const onEvent = () => {
    received += 1;
    if (waiting && received >= target) waiting();
  };
  const sockets: WebSocket[] = [];
  for (let i = 0; i < s.adminKeys.length; i += 100) {
    sockets.push(...(await Promise.all(s.adminKeys.slice(i, i + 100).map((k) => subscriber(s.url, k, onEvent)))));
  }
  await new Promise((r) => setTimeout(r, 1_000)); // every subscription live
  const samples: number[] = [];
  for (const [n, id] of s.victimIds.entries()) {
    target = received + sockets.length;
    const everyone = new Promise<void>((resolve) => (waiting = resolve));
    const started = performance.now();
    await revoke(s, id);
    await everyone;
    waiting = null;
    if (n > 0) samples.push(performance.now() - started); // the first one warms up
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const socket of sockets) socket.terminate();
  await stop(s);
  return samples;
}

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
};

const results = { keyplane: [] as number[], bare: [] as number[] };
for (let round = 1; round <= ROUNDS; round += 1) {
  if (process.env.FANOUT_ONLY !== 'keyplane') results.bare.push(...(await measure('bench/bare-fanout-server.ts')));
  results.keyplane.push(...(await measure('bench/fanout-server.ts')));
  console.log(`round ${round}/${ROUNDS} done`);
}
const row = (name: string, xs: number[]) =>
  `${name.padEnd(10)} p50 ${quantile(xs, 0.5).toFixed(1).padStart(6)} ms   p99 ${quantile(xs, 0.99).toFixed(1).padStart(6)} ms   (${xs.length} revocations)`;
console.log(
  `\n${SUBSCRIBERS} subscribers, ${process.env.DATABASE_URL ? 'PostgreSQL' : 'embedded PostgreSQL'}${process.env.REDIS_URL ? ' + Redis' : ''}`,
);
console.log(row('bare', results.bare));
console.log(row('keyplane', results.keyplane));
console.log(
  `keyplane / bare: p50 ${(quantile(results.keyplane, 0.5) / quantile(results.bare, 0.5)).toFixed(2)}, p99 ${(quantile(results.keyplane, 0.99) / quantile(results.bare, 0.99)).toFixed(2)}`,
);
