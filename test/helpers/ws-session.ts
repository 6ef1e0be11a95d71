// A raw graphql-ws socket for tests that care about what arrives, in which order, and how the
// socket is closed (the graphql-ws client hides the order of a last event and the close).
import WebSocket from 'ws';

export interface WsSession {
  socket: WebSocket;
  /** every message received, in order, and the close as the last entry */
  log: ({ type: string; id?: string; payload?: unknown } | { type: 'close'; code: number; reason: string })[];
  closed: Promise<{ code: number; reason: string }>;
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
  /** resolves with the payloads of the first `count` `next` messages of operation `id` */
  nexts<T>(id: string, count: number, timeoutMs?: number): Promise<T[]>;
  close(): void;
}

export async function openWsSession(url: string, key: string): Promise<WsSession> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const log: WsSession['log'] = [];
  const waiters = new Set<() => void>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => {
      log.push({ type: 'close', code, reason: reason.toString() });
      for (const w of waiters) w();
      resolve({ code, reason: reason.toString() });
    }),
  );
  socket.on('message', (data) => {
    log.push(JSON.parse(data.toString()));
    for (const w of waiters) w();
  });
  await new Promise<void>((resolve, reject) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { 'x-api-key': key } })));
    const check = () => {
      if (log.some((m) => m.type === 'connection_ack')) resolve();
      else if (log.some((m) => m.type === 'close')) reject(new Error('closed before ack'));
    };
    waiters.add(check);
    socket.on('error', reject);
  });
  return {
    socket,
    log,
    closed,
    subscribe(id, query, variables) {
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    },
    nexts<T>(id: string, count: number, timeoutMs = 5_000) {
      return new Promise<T[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${count} events on ${id}: ${JSON.stringify(log)}`));
        }, timeoutMs);
        const check = () => {
          const got = log.filter((m) => m.type === 'next' && 'id' in m && m.id === id).map((m) => (m as { payload: T }).payload);
          if (got.length >= count) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(got.slice(0, count));
          }
        };
        waiters.add(check);
        check();
      });
    },
    close() {
      socket.close();
    },
  };
}

/** Lets the server process what was sent before the test acts (subscriptions go live). */
export const settle = (ms = 250) => new Promise((r) => setTimeout(r, ms));
