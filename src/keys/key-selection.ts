// Only the columns an operation asks of the ApiKey rows a list or lookup reads (issue 15 item 4).
//
// The ApiKey and User types stay in plugin-prisma's include mode: in select mode every field of a
// row that did not come from the plugin's own query (viewer.apiKey from the verification cache, a
// mutation's result, a bulk payload) would be reloaded from the database. Instead the resolvers
// that read ApiKey rows turn the plugin's query into a `select` of what the asked fields need:
// the columns below, the relations the plugin planned (creator, revoker) with the User columns
// asked of them, and id and kind always. A field missing from the tables (a new one) makes the
// query read whole rows, as before: slower, never wrong (a test keeps the tables complete).
import type { FieldNode, FragmentDefinitionNode, GraphQLResolveInfo, SelectionSetNode } from 'graphql';
import type { Prisma } from '../generated/prisma/client.js';

type KeyColumn = keyof Prisma.ApiKeySelect & string;
type UserColumn = keyof Prisma.UserSelect & string;

// status, revokedAt and revocationReason are derived (status.ts): a key past its expiresAt reads
// REVOKED/EXPIRED at once, so each needs status and expiresAt besides its own column.

/** The columns each field of the ApiKey type (and its KeyRecord interface) reads from its row. */
export const API_KEY_FIELD_COLUMNS: Readonly<Record<string, readonly KeyColumn[]>> = {
  __typename: [],
  id: ['id'],
  name: ['name'],
  hint: ['kind', 'hint'],
  status: ['status', 'expiresAt'],
  revokedAt: ['status', 'expiresAt', 'revokedAt'],
  revocationReason: ['status', 'expiresAt', 'revocationReason'],
  createdAt: ['createdAt'],
  lastUsedAt: ['lastUsedAt'],
  expiresAt: ['expiresAt'],
  previousSecretExpiresAt: ['previousSecretExpiresAt', 'status', 'expiresAt'],
  lastUsedFrom: ['lastUsedFrom'],
  // relations: their rows come from the plugin's planned query; the foreign key goes with them
  createdBy: ['createdById'],
  revokedBy: ['revokedById'],
};

/** The columns each field of the User type reads. */
export const USER_FIELD_COLUMNS: Readonly<Record<string, readonly UserColumn[]>> = {
  __typename: [],
  id: ['id'],
  name: ['name'],
  email: ['email'],
  role: ['role'],
  active: ['active', 'deletedAt'],
  externalId: ['externalId'],
};

const USER_RELATIONS = new Set(['createdBy', 'revokedBy']);

export interface KeyQuery {
  include?: Prisma.ApiKeyInclude;
  select?: Prisma.ApiKeySelect;
}

/**
 * `query` (plugin-prisma's, for the ApiKey rows at `path` below the field `info` resolves) as a
 * select of the columns the operation asks for. Unchanged if the plugin already selects, or if
 * a field is not in the tables above.
 */
export function selectAskedKeyColumns(info: GraphQLResolveInfo, path: readonly string[], query: KeyQuery): KeyQuery {
  if (query.select) return query;
  const asked = fieldsAt(info.fieldNodes, path, info.fragments);
  const select: Record<string, unknown> = { id: true, kind: true };
  for (const name of asked.keys()) {
    const columns = API_KEY_FIELD_COLUMNS[name];
    if (!columns) return query;
    for (const column of columns) select[column] = true;
  }
  for (const [relation, nested] of Object.entries(query.include ?? {})) {
    if (!nested) continue;
    const users = nested === true && USER_RELATIONS.has(relation) ? userColumns(asked.get(relation) ?? [], info.fragments) : null;
    select[relation] = users ? { select: users } : nested;
  }
  return { select: select as Prisma.ApiKeySelect };
}

/** The User columns the fields under `nodes` read (id always), or null for a field not in the table. */
function userColumns(nodes: readonly FieldNode[], fragments: Record<string, FragmentDefinitionNode>): Prisma.UserSelect | null {
  const select: Record<string, true> = { id: true };
  for (const name of fieldsAt(nodes, [], fragments).keys()) {
    const columns = USER_FIELD_COLUMNS[name];
    if (!columns) return null;
    for (const column of columns) select[column] = true;
  }
  return select;
}

/**
 * The fields selected (by name, aliases merged) at `path` below `nodes`, through fragments and
 * inline fragments of any type condition and whatever their @skip/@include: selecting a column
 * too many is harmless, one too few is not.
 */
function fieldsAt(
  nodes: readonly FieldNode[],
  path: readonly string[],
  fragments: Record<string, FragmentDefinitionNode>,
): Map<string, FieldNode[]> {
  let level: FieldNode[] = [...nodes];
  for (const segment of path) {
    const next: FieldNode[] = [];
    for (const node of level) next.push(...(collect(node.selectionSet, fragments).get(segment) ?? []));
    level = next;
  }
  const fields = new Map<string, FieldNode[]>();
  for (const node of level) {
    for (const [name, found] of collect(node.selectionSet, fragments)) {
      const into = fields.get(name);
      if (into) into.push(...found);
      else fields.set(name, [...found]);
    }
  }
  return fields;
}

function collect(
  set: SelectionSetNode | undefined,
  fragments: Record<string, FragmentDefinitionNode>,
  into = new Map<string, FieldNode[]>(),
  seen = new Set<string>(),
): Map<string, FieldNode[]> {
  for (const selection of set?.selections ?? []) {
    if (selection.kind === 'Field') {
      const name = selection.name.value;
      const list = into.get(name);
      if (list) list.push(selection);
      else into.set(name, [selection]);
    } else if (selection.kind === 'InlineFragment') {
      collect(selection.selectionSet, fragments, into, seen);
    } else {
      const name = selection.name.value;
      if (seen.has(name)) continue;
      seen.add(name);
      collect(fragments[name]?.selectionSet, fragments, into, seen);
    }
  }
  return into;
}
