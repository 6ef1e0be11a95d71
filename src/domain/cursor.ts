// Opaque keyset cursors: the sort value of a row and its id, base64url JSON. A cursor is checked
// in full before use: anything a client made up is BAD_USER_INPUT naming `after`, never a query.
// And the forward keyset page that a connection (graphql/connection.ts) answers with.
import { badInput } from './errors.js';

export interface Cursor {
  /** the sort value (an ISO date, or null where the sort column is null) */
  v: string | null;
  id: string;
}

/** Where a cursor page stands (the connection's PageInfo). */
export interface PageInfoShape {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

const MAX_CURSOR = 512;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;
// Dates both JavaScript and PostgreSQL hold (years 1..9999).
const EARLIEST = new Date('0001-01-01T00:00:00.000Z').getTime();
const LATEST = new Date('9999-12-31T23:59:59.999Z').getTime();

/** The one answer to a cursor this connection did not write (also a well-formed one of another order). */
export const invalidCursor = () => badInput('after', 'is not a cursor from this connection');

/** A date a cursor may carry: ISO 8601 UTC, a real calendar date, in years 1..9999. */
export function cursorDate(v: string): Date {
  if (!ISO.test(v)) throw invalidCursor();
  const at = new Date(v);
  const t = at.getTime();
  if (Number.isNaN(t) || t < EARLIEST || t > LATEST) throw invalidCursor();
  // "2024-02-30T…" parses as March 1st: a date that does not round-trip is not one we wrote.
  if (at.toISOString().slice(0, 10) !== v.slice(0, 10)) throw invalidCursor();
  return at;
}

export function decodeCursor(after: string): Cursor {
  if (after.length > MAX_CURSOR) throw invalidCursor();
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(after, 'base64url').toString());
  } catch {
    throw invalidCursor();
  }
  if (typeof c !== 'object' || c === null) throw invalidCursor();
  const { v, id } = c as Record<string, unknown>;
  if (typeof id !== 'string' || !ID.test(id)) throw invalidCursor();
  if (v === null) return { v: null, id };
  if (typeof v !== 'string') throw invalidCursor();
  cursorDate(v);
  return { v, id };
}

/** A page of a connection as graphql/connection.ts declares it (edges of nodes, PageInfo). */
export interface ConnectionPage<T> {
  edges: { readonly cursor: string; readonly node: T }[];
  pageInfo: PageInfoShape;
}

/** An edge whose cursor is encoded only when it is read (most pages ask for none but the last). */
class KeysetEdge<T> {
  constructor(
    readonly node: T,
    private readonly cursorOf: (node: T) => Cursor,
  ) {}

  get cursor(): string {
    return encodeCursor(this.cursorOf(this.node));
  }
}

/**
 * A forward keyset page: `rows` are at most `first` + 1 rows strictly after `after` in the list's
 * order (the extra row only tells that there is a next page); `cursorOf` is a row's place in that order.
 */
export function keysetPage<T>(rows: readonly T[], first: number, after: Cursor | null, cursorOf: (row: T) => Cursor): ConnectionPage<T> {
  const edges = rows.slice(0, first).map((row) => new KeysetEdge(row, cursorOf));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > first,
      hasPreviousPage: after !== null,
      startCursor: edges[0]?.cursor ?? null,
      // An empty page (first: 0, say) leaves the client where it was: its own cursor, not null.
      endCursor: edges.at(-1)?.cursor ?? (after ? encodeCursor(after) : null),
    },
  };
}
