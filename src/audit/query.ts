// auditEvents and the export read the same rows: a team's events in (at, id) order, filtered by
// actions, actor, target and time range, one keyset page (or batch) at a time. Raw SQL: a page
// over a million events must stay one short index range scan (see the migration audit_events),
// and an actions filter is one scan per action, merged (an IN list on the action index would read
// every matching row and sort them).
import type { Principal } from '../auth/principal.js';
import { type ConnectionPage, type Cursor, decodeCursor, keysetPage } from '../domain/cursor.js';
import { badInput } from '../domain/errors.js';
import { boundedList, pageSize, storableDate } from '../domain/input.js';
import type { AuditEvent, PrismaClient, User } from '../generated/prisma/client.js';
import { AUDIT_ACTIONS, isAuditAction } from './actions.js';

export interface AuditEventFilter {
  actions?: readonly string[] | null;
  actorId?: string | null;
  targetId?: string | null;
  /** inclusive */
  from?: Date | null;
  /** exclusive */
  to?: Date | null;
}

/** An event with its actor's row, read in one query for the page (no lookup per event). */
export type AuditEventRow = AuditEvent & { actor: User | null };

const MAX_TARGET_ID = 200;

/** The filter as checked values: unknown action names and oversized ids are BAD_USER_INPUT. */
function checkedFilter(filter: AuditEventFilter | null | undefined): AuditEventFilter {
  const actions = filter?.actions ? [...new Set(boundedList('filter.actions', filter.actions, AUDIT_ACTIONS.length, 'maxActions'))] : null;
  for (const action of actions ?? []) {
    if (!isAuditAction(action)) throw badInput('filter.actions', `unknown action ${JSON.stringify(action.slice(0, 100))}`);
  }
  if (filter?.targetId != null && filter.targetId.length > MAX_TARGET_ID) {
    throw badInput('filter.targetId', `at most ${MAX_TARGET_ID} characters`);
  }
  if (filter?.actorId != null && filter.actorId.length > MAX_TARGET_ID) throw badInput('filter.actorId', 'is not a user id');
  const from = filter?.from != null ? storableDate('filter.from', filter.from) : null;
  const to = filter?.to != null ? storableDate('filter.to', filter.to) : null;
  // As the export answers: from is inclusive, to exclusive, so an empty or reversed range is a mistake.
  if (from && to && from.getTime() >= to.getTime()) throw badInput('filter.to', 'must be after filter.from');
  return { actions, actorId: filter?.actorId ?? null, targetId: filter?.targetId ?? null, from, to };
}

type Direction = 'newest' | 'oldest';

/**
 * One keyset slice of a team's events: `limit` rows after `cursor` in `direction`. Parameters
 * are numbered as they are added; the statement names the order's index columns only.
 */
export function sliceQuery(teamId: string, filter: AuditEventFilter, cursor: Cursor | null, direction: Direction, limit: number) {
  const params: unknown[] = [teamId];
  const param = (value: unknown, cast: string) => {
    params.push(value);
    return `$${params.length}::${cast}`;
  };
  const conditions = [`e."teamId" = $1`];
  if (filter.actorId) conditions.push(`e."actorId" = ${param(filter.actorId, 'text')}`);
  if (filter.targetId) conditions.push(`e."targetId" = ${param(filter.targetId, 'text')}`);
  if (filter.from) conditions.push(`e."at" >= ${param(filter.from, 'timestamptz')}`);
  if (filter.to) conditions.push(`e."at" < ${param(filter.to, 'timestamptz')}`);
  const beyond = direction === 'newest' ? '<' : '>';
  if (cursor) conditions.push(`(e."at", e."id") ${beyond} (${param(cursor.v, 'timestamptz')}, ${param(cursor.id, 'text')})`);
  const order = direction === 'newest' ? `e."at" DESC, e."id" DESC` : `e."at" ASC, e."id" ASC`;
  const n = param(limit, 'int');
  if (!filter.actions?.length) {
    return { sql: `SELECT e.* FROM "AuditEvent" e WHERE ${conditions.join(' AND ')} ORDER BY ${order} LIMIT ${n}`, params };
  }
  const actions = param(filter.actions, 'text[]');
  return {
    sql: `SELECT e.* FROM unnest(${actions}) AS a(action)
          CROSS JOIN LATERAL (SELECT e.* FROM "AuditEvent" e
                               WHERE ${conditions.join(' AND ')} AND e."action" = a.action
                               ORDER BY ${order} LIMIT ${n}) e
          ORDER BY ${order} LIMIT ${n}`,
    params,
  };
}

export const cursorOfEvent = (e: Pick<AuditEvent, 'at' | 'id'>): Cursor => ({ v: e.at.toISOString(), id: e.id });

export class AuditQuery {
  constructor(private readonly prisma: PrismaClient) {}

  /** auditEvents: newest first, `first` after the cursor `after`; no total count (SPEC §5). */
  async page(
    p: Principal,
    args: { filter?: AuditEventFilter | null; first?: number | null; after?: string | null },
  ): Promise<ConnectionPage<AuditEventRow>> {
    const first = pageSize(args.first);
    const filter = checkedFilter(args.filter);
    const cursor = args.after ? decodeCursor(args.after) : null;
    if (cursor && cursor.v === null) throw badInput('after', 'is not a cursor from this connection');
    const { sql, params } = sliceQuery(p.teamId, filter, cursor, 'newest', first + 1);
    const rows = await this.prisma.$queryRawUnsafe<AuditEvent[]>(sql, ...params);
    const actors = await this.actorsOf(rows.slice(0, first));
    const withActors = rows.map((row) => ({ ...row, actor: row.actorId ? (actors.get(row.actorId) ?? null) : null }));
    return keysetPage(withActors, first, cursor, cursorOfEvent);
  }

  /** The page's actors in one query. */
  private async actorsOf(events: AuditEvent[]): Promise<Map<string, User>> {
    const ids = [...new Set(events.flatMap((e) => (e.actorId ? [e.actorId] : [])))];
    if (ids.length === 0) return new Map();
    const users = await this.prisma.user.findMany({ where: { id: { in: ids } } });
    return new Map(users.map((u) => [u.id, u]));
  }

  /** The export's next batch: oldest first, after `cursor`. */
  batch(teamId: string, filter: AuditEventFilter, cursor: Cursor | null, size: number): Promise<AuditEvent[]> {
    const { sql, params } = sliceQuery(teamId, filter, cursor, 'oldest', size);
    return this.prisma.$queryRawUnsafe<AuditEvent[]>(sql, ...params);
  }
}
