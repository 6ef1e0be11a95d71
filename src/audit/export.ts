// GET /audit/export?from=ISO&to=ISO&format=ndjson|csv (SPEC §5): a team's events in [from, to),
// oldest first, for a SIEM to pull a month at a time. Streamed: keyset batches from the database,
// each written when the client has taken the previous one (the response's backpressure), so a
// million events cost the memory of one batch. An ENTERPRISE admin's personal key only: no key
// 401, anyone else 403. The export is itself audited (audit.exported) before the first byte.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import { stringify } from 'csv-stringify/sync';
import type { Logger } from 'pino';
import { clientAddressOfRequest } from '../auth/client-address.js';
import type { KeyGate } from '../auth/gate.js';
import { isAdminRole } from '../auth/principal.js';
import { isDatabaseUnavailable } from '../db/outage.js';
import type { Cursor } from '../domain/cursor.js';
import type { AuditEvent, PrismaClient } from '../generated/prisma/client.js';
import type { KeyRateLimiter } from '../ratelimit/key-limiter.js';
import type { MonthlyQuota } from '../ratelimit/quota.js';
import { actorOfPrincipal } from './actor.js';
import { type AuditQuery, cursorOfEvent } from './query.js';
import { recordAudit } from './record.js';

export const AUDIT_EXPORT_PATH = '/audit/export';
/** Rows per database read: big enough to amortise the round trip, small enough to stay flat. */
const BATCH = 2_000;

export const CSV_COLUMNS = [
  'at',
  'action',
  'actorType',
  'actorId',
  'actorKeyHint',
  'targetType',
  'targetId',
  'summary',
  'address',
  'userAgent',
] as const;

type Format = 'ndjson' | 'csv';

const CONTENT_TYPE: Record<Format, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

// ISO 8601: a date (midnight UTC), or a date and time with Z or an offset.
const ISO = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

function answer(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify({ message }));
}

const EARLIEST = new Date('0001-01-01T00:00:00.000Z').getTime();
const LATEST = new Date('9999-12-31T23:59:59.999Z').getTime();

/** A real calendar date and time (2026-02-30 and T24:00 are not), in years 1..9999 once in UTC. */
function isoParam(params: URLSearchParams, name: string): Date | string {
  const values = params.getAll(name);
  if (values.length > 1) return `${name} is given ${values.length} times: give it once`;
  const raw = values[0];
  if (raw === undefined || raw === '') return `${name} is required (ISO 8601, e.g. 2026-11-01T00:00:00Z)`;
  const at = new Date(raw);
  const notIso = `${name} is not an ISO 8601 date or date-time: ${JSON.stringify(raw.slice(0, 40))}`;
  if (!ISO.test(raw) || Number.isNaN(at.getTime())) return notIso;
  // JavaScript rolls 2026-02-30 over to March 2nd: the written date must be a day of its month.
  const [year, month, day] = raw.slice(0, 10).split('-').map(Number) as [number, number, number];
  const calendar = new Date(0);
  calendar.setUTCFullYear(year, month - 1, day);
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day || /T24:/.test(raw)) return notIso;
  if (at.getTime() < EARLIEST || at.getTime() > LATEST) return `${name} must be in the years 1 to 9999 (UTC)`;
  return at;
}

/**
 * One CSV record per event (RFC 4180 quoting, CRLF), by csv-stringify. A field a spreadsheet would
 * run as a formula (=, +, -, @, tab, CR first: a user agent or a name in a summary is the client's
 * text) gets a leading apostrophe (`escape_formulas`, OWASP's CSV injection advice); the NDJSON
 * export keeps every text exact.
 */
function csvLines(events: AuditEvent[]): string {
  return stringify(
    events.map((e) => [
      e.at.toISOString(),
      e.action,
      e.actorType,
      e.actorId,
      e.actorKeyHint,
      e.targetType,
      e.targetId,
      e.summary,
      e.address,
      e.userAgent,
    ]),
    CSV_OPTIONS,
  );
}

const CSV_OPTIONS = { escape_formulas: true, record_delimiter: 'windows' } as const;

function ndjsonLine(e: AuditEvent): string {
  const { id, at, action, actorType, actorId, actorKeyHint, targetType, targetId, summary, address, userAgent } = e;
  return `${JSON.stringify({ id, at: at.toISOString(), action, actorType, actorId, actorKeyHint, targetType, targetId, summary, address, userAgent })}\n`;
}

/** Resolves once the client has taken what was written, false when it went away instead. */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    // Both listeners go when either fires: one pair per batch, never an accumulation.
    const settle = (taken: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(taken);
    };
    const onDrain = () => settle(true);
    const onClose = () => settle(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

export interface AuditExportDeps {
  gate: KeyGate;
  audit: AuditQuery;
  prisma: PrismaClient;
  /** the key's rate limit and the team's monthly quota: an export is one request, as on /graphql */
  limiter: KeyRateLimiter;
  quota: MonthlyQuota;
  log: Logger;
  /** TRUST_PROXY, for the client address */
  trustProxy: BlockList | null;
}

export async function handleAuditExport(deps: AuditExportDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET') return answer(res, 405, 'GET only', { allow: 'GET' });
  const header = req.headers['x-api-key'];
  if (typeof header !== 'string' || header.trim() === '') {
    return answer(res, 401, 'Missing API key: send it in the X-API-Key header', { 'www-authenticate': 'X-API-Key' });
  }
  const address = clientAddressOfRequest(req, deps.trustProxy);
  const outcome = await deps.gate.authenticate(header, address);
  if (!outcome.ok) {
    if (outcome.reason === 'blocked' && 'retryAfterSeconds' in outcome) {
      return answer(res, 429, outcome.message, { 'retry-after': String(outcome.retryAfterSeconds) });
    }
    return answer(res, 401, outcome.message, { 'www-authenticate': 'X-API-Key' });
  }
  const p = outcome.principal;
  // SPEC §4's order: the rate limit and the quota before the role and the plan.
  const rate = await deps.limiter.consume(p.keyId);
  const rateHeaders = {
    'x-ratelimit-limit': String(rate.limit),
    'x-ratelimit-remaining': String(rate.remaining),
    'x-ratelimit-reset': String(Math.ceil(rate.resetAt.getTime() / 1000)),
  };
  for (const [name, value] of Object.entries(rateHeaders)) res.setHeader(name, value);
  if (!rate.allowed) {
    return answer(res, 429, `Rate limit of ${rate.limit} requests per ${deps.limiter.windowSeconds} s exceeded for this key`, {
      'retry-after': String(rate.retryAfterSeconds),
    });
  }
  const month = await deps.quota.consume(p.teamId, p.plan, 1);
  if (!month.allowed) {
    const retry = Math.max(1, Math.ceil((month.resetAt.getTime() - Date.now()) / 1000));
    return answer(res, 429, `Monthly quota of ${month.limit} API calls used up for this team`, { 'retry-after': String(retry) });
  }
  if (p.keyKind !== 'PERSONAL' || !isAdminRole(p.role))
    return answer(res, 403, 'Only a team admin (TEAM_ADMIN or SUPER_ADMIN) may export the audit trail');
  if (p.plan !== 'ENTERPRISE') return answer(res, 403, 'The audit trail needs the ENTERPRISE plan');

  const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const from = isoParam(params, 'from');
  const to = isoParam(params, 'to');
  const formats = params.getAll('format');
  if (formats.length > 1) return answer(res, 400, 'format is given several times: give it once');
  const format = formats[0] ?? 'ndjson';
  if (typeof from === 'string') return answer(res, 400, from);
  if (typeof to === 'string') return answer(res, 400, to);
  if (from.getTime() >= to.getTime()) return answer(res, 400, 'from must be before to (from is inclusive, to exclusive)');
  if (format !== 'ndjson' && format !== 'csv') return answer(res, 400, 'format must be ndjson or csv');

  const actor = actorOfPrincipal(p, { clientAddress: address, userAgent: req.headers['user-agent'] ?? null });
  await deps.prisma.$transaction((tx) =>
    recordAudit(tx, actor, [
      {
        teamId: p.teamId,
        action: 'audit.exported',
        targetType: 'audit',
        targetId: null,
        summary: `Exported the audit trail from ${from.toISOString()} to ${to.toISOString()} as ${format}`,
      },
    ]),
  );

  res.writeHead(200, {
    'content-type': CONTENT_TYPE[format],
    'content-disposition': `attachment; filename="audit-${from.toISOString().slice(0, 10)}-${to.toISOString().slice(0, 10)}.${format}"`,
    'cache-control': 'no-store',
  });
  if (format === 'csv') res.write(stringify([[...CSV_COLUMNS]], CSV_OPTIONS));
  const lines = format === 'csv' ? csvLines : (rows: AuditEvent[]) => rows.map(ndjsonLine).join('');
  let cursor: Cursor | null = null;
  for (;;) {
    if (res.destroyed) return;
    const rows = await deps.audit.batch(p.teamId, { from, to }, cursor, BATCH);
    if (rows.length > 0 && !res.write(lines(rows)) && !(await drained(res))) return;
    const last = rows.at(-1);
    if (rows.length < BATCH || !last) break;
    cursor = cursorOfEvent(last);
  }
  res.end();
}

/** The route's entry: failures end the response (a half-sent export is cut, never completed). */
export function serveAuditExport(deps: AuditExportDeps, req: IncomingMessage, res: ServerResponse): void {
  handleAuditExport(deps, req, res).catch((error: unknown) => {
    deps.log.error({ err: error }, 'audit export failed');
    if (res.headersSent) res.destroy();
    else if (isDatabaseUnavailable(error)) answer(res, 503, 'The database is unavailable: retry shortly', { 'retry-after': '2' });
    else answer(res, 500, 'internal error');
  });
}
