// The LISTEN connection of the key change feed through a TCP proxy: a slow
// heartbeat is no lost connection; a server that never answers the connection is a lost one
// (within the connect timeout, not never); a connection that keeps dropping right after it is
// up is retried with a growing backoff, not every 100 ms.
import { createServer, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { listenPostgres, type Subscription } from '../../src/db/listener.js';
import { createTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const CHANNEL = `kp_listener_test_${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LISTEN connection', () => {
  const base = new URL(inject('postgresUrl'));
  const through = (port: number) => {
    const u = new URL(base!);
    u.port = String(port);
    return u.toString();
  };
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function open(proxy: TcpProxy) {
    const states: { state: 'up' | 'down'; at: number }[] = [];
    const payloads: string[] = [];
    const sub: Subscription = listenPostgres(through(proxy.port), CHANNEL, {
      payload: (p) => payloads.push(p),
      state: (state) => states.push({ state, at: Date.now() }),
    });
    cleanups.push(() => sub.close());
    return { states, payloads, sub };
  }

  it('a heartbeat answered in ~2 s (a busy server) does not tear the connection down', async () => {
    const proxy = await createTcpProxy(Number(base!.port || 5432));
    cleanups.push(() => proxy.close());
    const { states, payloads } = await open(proxy);
    while (!states.some((s) => s.state === 'up')) await sleep(20);
    proxy.delayMs = 2_100;
    await sleep(7_000);
    expect(states.map((s) => s.state)).toEqual(['up']);
    // Notifications still arrive (late, like everything else).
    const c = new pg.Client({ connectionString: base!.toString() });
    await c.connect();
    await c.query(`SELECT pg_notify('${CHANNEL}', 'still here')`);
    await c.end();
    const started = Date.now();
    while (!payloads.includes('still here') && Date.now() - started < 5_000) await sleep(50);
    expect(payloads).toContain('still here');
  }, 20_000);

  it('a server that accepts the TCP connection but never answers is reported down within seconds', async () => {
    const held: Socket[] = [];
    const blackHole = createServer((s) => void held.push(s));
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', () => r()));
    cleanups.push(async () => {
      for (const s of held) s.destroy();
      await new Promise((r) => blackHole.close(r));
    });
    const states: string[] = [];
    const sub = listenPostgres(through((blackHole.address() as { port: number }).port), CHANNEL, {
      payload: () => {},
      state: (s) => states.push(s),
    });
    cleanups.push(() => sub.close());
    const started = Date.now();
    while (!states.includes('down') && Date.now() - started < 6_000) await sleep(50);
    expect(states).toContain('down');
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 10_000);

  it('a connection that drops right after each LISTEN is retried with a growing backoff', async () => {
    const proxy = await createTcpProxy(Number(base!.port || 5432));
    cleanups.push(() => proxy.close());
    let ups = 0;
    const sub = listenPostgres(through(proxy.port), CHANNEL, {
      payload: () => {},
      state: (s) => {
        if (s !== 'up') return;
        ups += 1;
        setTimeout(() => proxy.cut(), 20);
      },
    });
    cleanups.push(() => sub.close());
    await sleep(3_500);
    // 100, 200, 400, 800, 1600 ms between attempts: at most 6 connections in 3.5 s.
    expect(ups).toBeGreaterThanOrEqual(3);
    expect(ups).toBeLessThanOrEqual(6);
  }, 10_000);
});
