// Opaque keyset cursors: the sort value of a row and its id, base64url JSON. A cursor is checked
// in full before use: anything a client made up is BAD_USER_INPUT naming `after`, never a query.
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

const invalid = () => badInput('after', 'is not a cursor from this connection');

/** A date a cursor may carry: ISO 8601 UTC, a real calendar date, in years 1..9999. */
export function cursorDate(v: string): Date {
  if (!ISO.test(v)) throw invalid();
  const at = new Date(v);
  const t = at.getTime();
  if (Number.isNaN(t) || t < EARLIEST || t > LATEST) throw invalid();
  // "2024-02-30T…" parses as March 1st: a date that does not round-trip is not one we wrote.
  if (at.toISOString().slice(0, 10) !== v.slice(0, 10)) throw invalid();
  return at;
}

export function decodeCursor(after: string): Cursor {
  if (after.length > MAX_CURSOR) throw invalid();
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(after, 'base64url').toString());
  } catch {
    throw invalid();
  }
  if (typeof c !== 'object' || c === null) throw invalid();
  const { v, id } = c as Record<string, unknown>;
  if (typeof id !== 'string' || !ID.test(id)) throw invalid();
  if (v === null) return { v: null, id };
  if (typeof v !== 'string') throw invalid();
  cursorDate(v);
  return { v, id };
}
