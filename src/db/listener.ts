// LISTEN on PostgreSQL with a dedicated connection (not one of Prisma's pool: a pooled connection
// would be handed to queries and lose its LISTEN). Reconnects with backoff when it drops; a
// heartbeat notices a connection that died silently. The owner is told when the channel is up
// (notifications flow) and when it is down (some may be lost: resynchronise on the next up).
import pg from 'pg';

export interface ChannelHandlers {
  payload(payload: string): void;
  /** 'up' once LISTEN is in place (again); 'down' when notifications may have been missed */
  state(state: 'up' | 'down'): void;
}

export interface Subscription {
  close(): Promise<void>;
}

const HEARTBEAT_MS = 2_000;
/** Heartbeats still unanswered at the next beat, in a row, before the connection counts as lost
 *  (a SELECT 1 slowed by a busy server is not a dead connection): lost within ~6 s. */
const MISSED_HEARTBEATS = 2;
/** A connection (TCP + startup) not established within this time has failed. */
const CONNECT_TIMEOUT_MS = 3_000;
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
/** The backoff starts over only once a connection has stayed up this long (no flapping at 100 ms). */
const STABLE_MS = 10_000;

export function listenPostgres(databaseUrl: string, channel: string, handlers: ChannelHandlers): Subscription {
  let client: pg.Client | undefined;
  let closed = false;
  let reported: 'up' | 'down' | null = null;
  let backoff = MIN_BACKOFF_MS;
  let retry: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let upSince = 0;

  const lost = (failed: pg.Client) => {
    if (failed !== client) return; // an older connection's late error
    client = undefined;
    clearInterval(heartbeat);
    failed.removeAllListeners('notification');
    failed.on('error', () => {}); // it may still report its end
    void failed.end().catch(() => {});
    if (reported !== 'down') {
      reported = 'down';
      handlers.state('down');
    }
    if (closed) return;
    if (upSince > 0 && Date.now() - upSince >= STABLE_MS) backoff = MIN_BACKOFF_MS;
    upSince = 0;
    retry = setTimeout(() => void connect(), backoff);
    retry.unref();
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  };

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({
      connectionString: databaseUrl,
      application_name: 'keyplane key changes',
      keepAlive: true,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    client = c;
    c.on('error', () => lost(c));
    c.on('end', () => lost(c));
    c.on('notification', (msg) => {
      if (msg.channel === channel && msg.payload !== undefined) handlers.payload(msg.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN "${channel}"`);
    } catch {
      lost(c);
      return;
    }
    if (client !== c || closed) return;
    upSince = Date.now();
    reported = 'up';
    handlers.state('up');
    // One heartbeat in flight at a time; a beat that finds the previous one unanswered is missed.
    let pending = false;
    let missed = 0;
    heartbeat = setInterval(() => {
      if (pending) {
        missed += 1;
        if (missed >= MISSED_HEARTBEATS) lost(c);
        return;
      }
      pending = true;
      c.query('SELECT 1').then(
        () => {
          pending = false;
          missed = 0;
        },
        () => lost(c),
      );
    }, HEARTBEAT_MS);
    heartbeat.unref();
  };

  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      clearInterval(heartbeat);
      const c = client;
      client = undefined;
      if (c) {
        c.removeAllListeners('notification');
        await c.end().catch(() => {});
      }
    },
  };
}
