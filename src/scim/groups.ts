// /scim/v2/Groups (RFC 7643 §4.2, RFC 7644 §3): the identity provider's groups of the team's
// members. displayName is unique per team (case-insensitive); members are live members of the team
// (User ids; a deleted member is not listed); what a group grants is group-roles.ts's one rule (the
// admin group). Every change is one group.* event in its transaction, plus member.updated for each
// member whose role it changed.
import { type Filter, parse } from 'scim2-parse-filter';
import type { AuditActor } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import type { Principal } from '../auth/principal.js';
import { isDomainError } from '../domain/errors.js';
import { stringProblem, validName } from '../domain/input.js';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { isAdminGroup, reconcileGroupRoles } from './group-roles.js';
import { ScimError } from './responses.js';
import { applyPatch, MAX_RESULTS, patchOperations } from './users.js';

export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const DEFAULT_COUNT = 100;
const MAX_EXTERNAL_ID = 255;
/** A group holds at most this many members in one request (a PUT or the result of a PATCH). */
export const MAX_GROUP_MEMBERS = 10_000;

const GROUP_WITH_MEMBERS = {
  members: {
    where: { user: { deletedAt: null } },
    select: { user: { select: { id: true, name: true } } },
    orderBy: { userId: 'asc' },
  },
} satisfies Prisma.ScimGroupInclude;

export type GroupWithMembers = Prisma.ScimGroupGetPayload<{ include: typeof GROUP_WITH_MEMBERS }>;

/** The core Group representation; `base` is the absolute /scim/v2 URL. */
export function scimGroup(group: GroupWithMembers, base: string) {
  return {
    schemas: [GROUP_SCHEMA],
    id: group.id,
    ...(group.externalId !== null ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    members: group.members.map(({ user }) => ({ value: user.id, display: user.name, $ref: `${base}/Users/${user.id}` })),
    meta: {
      resourceType: 'Group',
      created: group.createdAt.toISOString(),
      lastModified: group.updatedAt.toISOString(),
      location: `${base}/Groups/${group.id}`,
    },
  };
}

interface GroupFields {
  displayName: string;
  externalId: string | null;
  /** undefined: the members are kept (a PUT without `members` would otherwise empty the group) */
  memberIds?: string[];
}

const invalidValue = (detail: string) => new ScimError(400, detail, 'invalidValue');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function attr(o: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : o[key];
}

function displayNameOf(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalidValue('displayName is required');
  const problem = stringProblem(value);
  if (problem) throw invalidValue(`displayName ${problem}`);
  if (value.trim().length > 100) throw invalidValue('displayName must be at most 100 characters');
  try {
    return validName('displayName', value.trim());
  } catch (error) {
    if (isDomainError(error)) throw invalidValue(error.message);
    throw error;
  }
}

function externalIdOf(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalidValue('externalId must be a string');
  const problem = stringProblem(value);
  if (problem) throw invalidValue(`externalId ${problem}`);
  const trimmed = value.trim();
  if (trimmed.length > MAX_EXTERNAL_ID) throw invalidValue(`externalId must be at most ${MAX_EXTERNAL_ID} characters`);
  return trimmed === '' ? null : trimmed;
}

function memberIdsOf(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (value === null) return [];
  if (!Array.isArray(value)) throw invalidValue('members must be an array');
  const ids = value.map((m) => {
    const id = isObject(m) ? attr(m, 'value') : undefined;
    if (typeof id !== 'string' || id === '' || stringProblem(id) !== null)
      throw invalidValue('each member needs a value: the id of a User');
    return id;
  });
  const unique = [...new Set(ids)];
  if (unique.length > MAX_GROUP_MEMBERS) throw invalidValue(`A group has at most ${MAX_GROUP_MEMBERS} members`);
  return unique;
}

function fieldsOf(body: unknown): GroupFields {
  if (!isObject(body)) throw new ScimError(400, 'The body must be a JSON object', 'invalidSyntax');
  return {
    displayName: displayNameOf(attr(body, 'displayName')),
    externalId: externalIdOf(attr(body, 'externalId')),
    memberIds: memberIdsOf(attr(body, 'members')),
  };
}

export interface GroupListQuery {
  filter?: string | null;
  startIndex?: number;
  count?: number;
}

export class ScimGroupService {
  constructor(
    private readonly prisma: PrismaClient,
    /** a member's role changed: this instance's cached verifications drop at once (the others hear the User trigger) */
    private readonly userChanged: (userId: string) => void = () => {},
  ) {}

  async get(p: Principal, id: string): Promise<GroupWithMembers> {
    const group = await this.prisma.scimGroup.findFirst({ where: { id, teamId: p.teamId }, include: GROUP_WITH_MEMBERS });
    if (!group) throw notFound(id);
    return group;
  }

  async list(p: Principal, query: GroupListQuery) {
    const team: Prisma.ScimGroupWhereInput = { teamId: p.teamId };
    const where = query.filter?.trim() ? { AND: [team, groupFilterWhere(query.filter)] } : team;
    const startIndex = Math.max(1, query.startIndex ?? 1);
    const count = Math.min(MAX_RESULTS, Math.max(0, query.count ?? DEFAULT_COUNT));
    const [totalResults, groups] = await Promise.all([
      this.prisma.scimGroup.count({ where }),
      count === 0
        ? Promise.resolve([])
        : this.prisma.scimGroup.findMany({
            where,
            include: GROUP_WITH_MEMBERS,
            orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
            skip: startIndex - 1,
            take: count,
          }),
    ]);
    return { totalResults, startIndex, groups };
  }

  create(p: Principal, actor: AuditActor, body: unknown): Promise<GroupWithMembers> {
    const fields = fieldsOf(body);
    return this.write(async (tx, roleChanged) => {
      await refuseTakenName(tx, p.teamId, fields.displayName, null);
      const memberIds = fields.memberIds ?? [];
      await requireMembers(tx, p.teamId, memberIds);
      const group = await tx.scimGroup.create({
        data: { teamId: p.teamId, displayName: fields.displayName, externalId: fields.externalId },
      });
      await tx.scimGroupMember.createMany({ data: memberIds.map((userId) => ({ groupId: group.id, userId })) });
      await recordAudit(tx, actor, [
        {
          teamId: p.teamId,
          action: 'group.created',
          targetType: 'group',
          targetId: group.id,
          summary: `Created group ${JSON.stringify(group.displayName)} with ${memberIds.length} member(s)`,
        },
      ]);
      if (isAdminGroup(group.displayName)) roleChanged(await reconcileGroupRoles(tx, actor, p.teamId, memberIds));
      return tx.scimGroup.findUniqueOrThrow({ where: { id: group.id }, include: GROUP_WITH_MEMBERS });
    });
  }

  /** PUT: displayName, externalId and (when sent) members replaced. */
  replace(p: Principal, actor: AuditActor, id: string, body: unknown): Promise<GroupWithMembers> {
    const fields = fieldsOf(body);
    return this.change(p, actor, id, () => fields);
  }

  /** PATCH (RFC 7644 §3.5.2) applied to the representation with scim-patch, then mapped back. */
  async patch(p: Principal, actor: AuditActor, id: string, body: unknown): Promise<GroupWithMembers> {
    const operations = patchOperations(body).flatMap(memberRemovalsByValue);
    // Removing a User of the team who is not in the group succeeds (idempotent, as identity
    // providers retry); removing an id that is no User of the team has no target (RFC 7644 §3.12).
    const removing = operations.flatMap(removedMemberId);
    if (removing.length > 0) {
      const known = await this.prisma.user.findMany({
        where: { id: { in: removing }, teamId: p.teamId, deletedAt: null },
        select: { id: true },
      });
      const knownIds = new Set(known.map((k) => k.id));
      const unknown = removing.filter((u) => !knownIds.has(u));
      if (unknown.length > 0) throw new ScimError(400, `No User of this team has the id ${unknown[0]}`, 'noTarget');
    }
    return this.change(p, actor, id, (current) => {
      const after = applyPatch(scimGroup(current, ''), operations);
      return { ...fieldsOf(after), memberIds: memberIdsOf(attr(after, 'members') ?? null) };
    });
  }

  async delete(p: Principal, actor: AuditActor, id: string): Promise<void> {
    await this.write(async (tx, roleChanged) => {
      const group = await lockedGroup(tx, p.teamId, id);
      const members = await tx.scimGroupMember.findMany({ where: { groupId: id }, select: { userId: true } });
      await tx.scimGroup.delete({ where: { id } });
      await recordAudit(tx, actor, [
        {
          teamId: p.teamId,
          action: 'group.deleted',
          targetType: 'group',
          targetId: id,
          summary: `Deleted group ${JSON.stringify(group.displayName)} (${members.length} member(s))`,
        },
      ]);
      if (isAdminGroup(group.displayName)) {
        roleChanged(
          await reconcileGroupRoles(
            tx,
            actor,
            p.teamId,
            members.map((m) => m.userId),
          ),
        );
      }
    });
  }

  private change(
    p: Principal,
    actor: AuditActor,
    id: string,
    fieldsFor: (current: GroupWithMembers) => GroupFields,
  ): Promise<GroupWithMembers> {
    return this.write(async (tx, roleChanged) => {
      await lockedGroup(tx, p.teamId, id);
      const current = await tx.scimGroup.findUniqueOrThrow({ where: { id }, include: GROUP_WITH_MEMBERS });
      const fields = fieldsFor(current);
      await refuseTakenName(tx, p.teamId, fields.displayName, id);
      // The live members: a deleted member's membership stays for its revival (it is no User meanwhile).
      const stored = current.members.map((m) => m.user.id);
      const next = fields.memberIds ?? stored;
      const storedSet = new Set(stored);
      const nextSet = new Set(next);
      const added = next.filter((u) => !storedSet.has(u));
      const removed = fields.memberIds === undefined ? [] : stored.filter((u) => !nextSet.has(u));
      await requireMembers(tx, p.teamId, added);
      if (removed.length > 0) await tx.scimGroupMember.deleteMany({ where: { groupId: id, userId: { in: removed } } });
      if (added.length > 0) await tx.scimGroupMember.createMany({ data: added.map((userId) => ({ groupId: id, userId })) });
      await tx.scimGroup.update({
        where: { id },
        data: { displayName: fields.displayName, externalId: fields.externalId, updatedAt: new Date() },
      });
      const changes = [
        current.displayName !== fields.displayName
          ? `displayName ${JSON.stringify(current.displayName)} → ${JSON.stringify(fields.displayName)}`
          : null,
        current.externalId !== fields.externalId
          ? `externalId ${JSON.stringify(current.externalId)} → ${JSON.stringify(fields.externalId)}`
          : null,
        added.length > 0 ? `${added.length} member(s) added` : null,
        removed.length > 0 ? `${removed.length} member(s) removed` : null,
      ].filter(Boolean);
      await recordAudit(tx, actor, [
        {
          teamId: p.teamId,
          action: 'group.updated',
          targetType: 'group',
          targetId: id,
          summary: `Updated group ${JSON.stringify(fields.displayName)}: ${changes.length ? changes.join(', ') : 'no change'}`,
        },
      ]);
      const wasAdmin = isAdminGroup(current.displayName);
      const isAdmin = isAdminGroup(fields.displayName);
      // A rename into or out of the admin name changes every member's standing; else only the moved ones'.
      const affected = wasAdmin !== isAdmin ? [...stored, ...next] : isAdmin ? [...added, ...removed] : [];
      roleChanged(await reconcileGroupRoles(tx, actor, p.teamId, affected));
      return tx.scimGroup.findUniqueOrThrow({ where: { id }, include: GROUP_WITH_MEMBERS });
    });
  }

  /** One transaction; a concurrent insert of the same displayName is a 409 too. */
  private async write<T>(work: (tx: Prisma.TransactionClient, roleChanged: (userIds: string[]) => void) => Promise<T>): Promise<T> {
    try {
      const changed: string[] = [];
      const result = await this.prisma.$transaction((tx) => work(tx, (ids) => changed.push(...ids)));
      for (const id of changed) this.userChanged(id);
      return result;
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new ScimError(409, 'A group of this team already has that displayName', 'uniqueness');
      }
      throw error;
    }
  }
}

type PatchOperation = ReturnType<typeof patchOperations>[number];

/**
 * Entra removes members as `{"op":"Remove","path":"members","value":[{"value":"<id>"}]}`; scim-patch
 * would remove only the values equal as a whole (display and $ref included): one removal per id.
 */
function memberRemovalsByValue(operation: PatchOperation): PatchOperation[] {
  const { op, path, value } = operation as { op: string; path?: string; value?: unknown };
  if (op !== 'remove' || path?.trim().toLowerCase() !== 'members' || !Array.isArray(value)) return [operation];
  return value.map((member) => {
    const id = isObject(member) ? attr(member, 'value') : undefined;
    if (typeof id !== 'string') throw invalidValue('each member to remove needs a value: the id of a User');
    return { op: 'remove', path: `members[value eq ${JSON.stringify(id)}]` } as PatchOperation;
  });
}

const MEMBER_VALUE_PATH = /^members\[\s*value\s+eq\s+("(?:[^"\\]|\\.)*")\s*\]$/i;

/** The member id a `members[value eq "…"]` removal names (none for other operations). */
function removedMemberId(operation: PatchOperation): string[] {
  const { op, path } = operation as { op: string; path?: string };
  const quoted = op === 'remove' && path ? MEMBER_VALUE_PATH.exec(path.trim())?.[1] : undefined;
  if (quoted === undefined) return [];
  try {
    return [JSON.parse(quoted) as string];
  } catch {
    return [];
  }
}

const notFound = (id: string) => new ScimError(404, `Group ${id} not found`);

async function refuseTakenName(tx: Prisma.TransactionClient, teamId: string, displayName: string, self: string | null) {
  const taken = await tx.$queryRaw<{ id: string }[]>`
    SELECT "id" FROM "ScimGroup" WHERE "teamId" = ${teamId} AND lower("displayName") = lower(${displayName}) AND "id" <> ${self ?? ''}`;
  if (taken.length > 0)
    throw new ScimError(409, `A group of this team already has the displayName ${JSON.stringify(displayName)}`, 'uniqueness');
}

/** Every id a live member of the team: another team's or a deleted member's id is unknown here. */
async function requireMembers(tx: Prisma.TransactionClient, teamId: string, ids: string[]) {
  if (ids.length === 0) return;
  const found = await tx.user.findMany({ where: { id: { in: ids }, teamId, deletedAt: null }, select: { id: true } });
  if (found.length === ids.length) return;
  const known = new Set(found.map((u) => u.id));
  const unknown = ids.filter((id) => !known.has(id));
  throw invalidValue(`No User of this team has the id ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}`);
}

/** The group `id` of the team, locked for the transaction (concurrent PATCHes apply one after the other). */
async function lockedGroup(tx: Prisma.TransactionClient, teamId: string, id: string) {
  const locked = await tx.$queryRaw<
    { id: string; displayName: string }[]
  >`SELECT "id", "displayName" FROM "ScimGroup" WHERE "id" = ${id} AND "teamId" = ${teamId} FOR UPDATE`;
  const group = locked[0];
  if (group === undefined) throw notFound(id);
  return group;
}

// Filters (RFC 7644 §3.4.2.2) on displayName (case-insensitive), externalId (case-exact) and
// members.value / members[value eq "…"]: eq, ne, and/or/not; anything else is invalidFilter.
type Where = Prisma.ScimGroupWhereInput;
const invalidFilter = (detail: string) => new ScimError(400, detail, 'invalidFilter');
const GROUP_PREFIX = `${GROUP_SCHEMA.toLowerCase()}:`;

export function groupFilterWhere(filter: string): Where {
  let ast: Filter;
  try {
    ast = parse(filter);
  } catch (error) {
    throw invalidFilter(`Unparsable filter: ${error instanceof Error ? error.message : String(error)}`);
  }
  return whereOf(ast, '');
}

function whereOf(f: Filter, prefix: string): Where {
  switch (f.op) {
    case 'and':
      return { AND: f.filters.map((c) => whereOf(c, prefix)) };
    case 'or':
      return { OR: f.filters.map((c) => whereOf(c, prefix)) };
    case 'not':
      return { NOT: whereOf(f.filter, prefix) };
    case '[]':
      if (attributeOf(f.attrPath, prefix) !== 'members') throw invalidFilter(`Unsupported value path: ${f.attrPath}`);
      return whereOf(f.valFilter, 'members.');
    case 'pr':
      return present(attributeOf(f.attrPath, prefix));
    case 'eq':
    case 'ne':
    case 'co':
    case 'sw':
    case 'ew': {
      const attribute = attributeOf(f.attrPath, prefix);
      const value = f.compValue;
      if (typeof value !== 'string') throw invalidFilter(`${attribute} compares with a string`);
      if (f.op === 'eq') return equalTo(attribute, value);
      // A group without an externalId is "not equal" too (SQL's NULL would drop it).
      if (f.op === 'ne')
        return attribute === 'externalid'
          ? { OR: [{ externalId: null }, { NOT: equalTo(attribute, value) }] }
          : { NOT: equalTo(attribute, value) };
      return matching(attribute, f.op, value);
    }
    default:
      throw invalidFilter(`Unsupported filter operator ${f.op}: Groups filter with eq, ne, co, sw, ew, pr`);
  }
}

/** Prisma hands contains/startsWith/endsWith to LIKE as is: its wildcards must match themselves. */
const likeLiteral = (value: string) => value.replace(/[\\%_]/g, '\\$&');

/** co / sw / ew: displayName case-insensitively (caseExact false), externalId exactly. */
function matching(attribute: string, op: 'co' | 'sw' | 'ew', value: string): Where {
  const condition = { [op === 'co' ? 'contains' : op === 'sw' ? 'startsWith' : 'endsWith']: likeLiteral(value) };
  if (attribute === 'displayname') return { displayName: { ...condition, mode: 'insensitive' } };
  if (attribute === 'externalid') return { externalId: condition };
  throw invalidFilter(`Unsupported filter attribute for ${op}: ${attribute} (displayName, externalId)`);
}

function present(attribute: string): Where {
  if (attribute === 'displayname') return {};
  if (attribute === 'externalid') return { AND: [{ externalId: { not: null } }, { externalId: { not: '' } }] };
  if (attribute === 'members' || attribute === 'members.value') return { members: { some: { user: { deletedAt: null } } } };
  throw invalidFilter(`Unsupported filter attribute: ${attribute}`);
}

function attributeOf(path: string, prefix: string): string {
  let attribute = `${prefix}${path}`.toLowerCase();
  if (attribute.startsWith(GROUP_PREFIX)) attribute = attribute.slice(GROUP_PREFIX.length);
  return attribute;
}

function equalTo(attribute: string, value: string): Where {
  switch (attribute) {
    case 'displayname':
      // Prisma's insensitive equals is ILIKE: its wildcards must match themselves.
      return { displayName: { equals: value.replace(/[\\%_]/g, '\\$&'), mode: 'insensitive' } };
    case 'externalid':
      return { externalId: value };
    case 'members':
    case 'members.value':
      return { members: { some: { userId: value, user: { deletedAt: null } } } };
    default:
      throw invalidFilter(`Unsupported filter attribute: ${attribute}`);
  }
}
