// Keyset pages of plain list fields (SPEC §5 bounded answers): `first` items after the row whose
// id is `after` (the last id of the previous page), in a (timestamp, id) order. The `after` row is
// looked up within the list's own scope: an id from elsewhere is BAD_USER_INPUT naming `after`.
import { badInput } from './errors.js';
import { pageSize } from './input.js';

export interface ListArgs {
  first?: number | null;
  after?: string | null;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface ListPage {
  take: number;
  /** a where fragment for the rows after `after`, or null on the first page */
  after: Record<string, unknown> | null;
}

/**
 * `lookup` finds the sort value of the row `after` names, in the list's scope (null: not there).
 * `direction` is the list's order on (column, id).
 */
export async function listPage(
  args: ListArgs,
  lookup: (id: string) => Promise<Date | null>,
  column: string,
  direction: 'asc' | 'desc',
): Promise<ListPage> {
  const take = pageSize(args.first);
  if (args.after == null) return { take, after: null };
  const id = args.after;
  const at = ID.test(id) ? await lookup(id) : null;
  if (!at) throw badInput('after', 'is not an id of this list');
  const beyond = direction === 'desc' ? 'lt' : 'gt';
  return { take, after: { OR: [{ [column]: { [beyond]: at } }, { [column]: at, id: { [beyond]: id } }] } };
}
