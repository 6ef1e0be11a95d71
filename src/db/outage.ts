// The database unreachable (PostgreSQL stopped, restarting, out of connections, the network gone)
// is the server's state, not the request's fault: every such failure becomes one coded answer,
// HTTP 503 SERVICE_UNAVAILABLE with Retry-After, wherever it surfaces (a resolver, a plugin, the
// authentication of a key not in the cache), instead of a masked 200 INTERNAL_SERVER_ERROR.
// What Prisma 6.19 with @prisma/adapter-pg throws, seen here:
//  - PostgreSQL down: PrismaClientKnownRequestError P1001 (P2010 for raw queries) whose
//    meta.driverAdapterError.cause.kind is DatabaseNotReachable (ECONNREFUSED);
//  - a session ended by a shutdown: P2010 (raw) or other codes with cause.code 57P01;
//  - a pooled connection that died, or a pool wait past connectionTimeoutMillis: the pg error
//    itself ("Connection terminated unexpectedly", "timeout exceeded when trying to connect").
import { DomainError } from '../domain/errors.js';

/** Seconds a client is told to wait before retrying. */
export const RETRY_AFTER_SECONDS = 2;
export const UNAVAILABLE_MESSAGE = 'The database is unavailable: retry shortly';

// Prisma: can't reach / timed out / server closed the connection / pool timeout.
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
// Driver adapter error kinds (DriverAdapterError.cause.kind): the adapter maps ECONNREFUSED and
// ENOTFOUND to DatabaseNotReachable, ECONNRESET to ConnectionClosed, ETIMEDOUT to SocketTimeout.
// Bare socket codes are not matched: an SMTP or webhook ECONNREFUSED is no database outage.
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
// SQLSTATE: admin/crash shutdown, cannot connect now (starting up, shutting down), too many connections.
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const PG_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error and is not queryable/,
  /^Can't reach database server/,
];

/** Class 08 is connection exceptions. */
const isUnavailableSqlState = (code: string) => SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code);

/** Whether an error (or anything it wraps) says the database cannot be reached right now. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length && seen.size < 20) {
    const e = queue.shift();
    if (e === null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const { code, kind, message, cause, meta, originalError, originalCode } = e as Record<string, unknown>;
    if (typeof code === 'string') {
      if (PRISMA_CODES.has(code) || isUnavailableSqlState(code)) return true;
    }
    if (typeof originalCode === 'string' && isUnavailableSqlState(originalCode)) return true;
    if (typeof kind === 'string' && ADAPTER_KINDS.has(kind)) return true;
    if (typeof message === 'string' && PG_MESSAGES.some((re) => re.test(message))) return true;
    queue.push(cause, originalError, (meta as { driverAdapterError?: unknown } | undefined)?.driverAdapterError);
  }
  return false;
}

const http = { status: 503, headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } };

/** The error a client gets (graphql/errors.ts keeps the path of the field that failed, if any). */
export const databaseUnavailable = () =>
  new DomainError('SERVICE_UNAVAILABLE', UNAVAILABLE_MESSAGE, {
    details: { retryAfter: RETRY_AFTER_SECONDS },
    status: 503,
    retryAfter: RETRY_AFTER_SECONDS,
  });

/** The same answer before any GraphQL work (authentication of a key not in the cache). */
export function databaseUnavailableResponse(): Response {
  const body = { errors: [{ message: UNAVAILABLE_MESSAGE, extensions: { code: 'SERVICE_UNAVAILABLE', retryAfter: RETRY_AFTER_SECONDS } }] };
  return new Response(JSON.stringify(body), {
    status: 503,
    headers: { 'content-type': 'application/json; charset=utf-8', ...http.headers },
  });
}
