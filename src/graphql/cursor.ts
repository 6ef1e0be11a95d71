// Opaque keyset cursors: the sort value of a row and its id, base64url JSON.
import { badInput } from './errors.js';

export interface Cursor {
  /** the sort value (an ISO date, or null where the sort column is null) */
  v: string | null;
  id: string;
}

export const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

export function decodeCursor(after: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(after, 'base64url').toString()) as Cursor;
    if (typeof c.id === 'string' && (c.v === null || typeof c.v === 'string')) return c;
  } catch {
    // fall through
  }
  throw badInput('after', 'is not a cursor from this connection');
}
