// /scim/v2/Users (RFC 7643 §4.1, RFC 7644 §3): the team's members as an identity provider sees
// them. userName is the member's email (stored lower-case, so unique per team case-insensitively),
// displayName and name.formatted the member's name. Tombstones (deleted members) are not Users,
// but a POST with their userName revives them. A member set inactive or deleted loses every
// personal key at once (DEPROVISIONED, through the one revocation path, in the same transaction
// as the change) and their open invitations end; SCIM never deactivates or deletes a SUPER_ADMIN.
import { type ScimResource, scimPatch } from 'scim-patch';
import { z } from 'zod';
import type { AuditActor } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import type { Principal } from '../auth/principal.js';
import { isDomainError } from '../domain/errors.js';
import { stringProblem, validName } from '../domain/input.js';
import { Prisma, type PrismaClient, type User } from '../generated/prisma/client.js';
import type { RevocationService, Revoker } from '../revocation/service.js';
import { emailSchema } from '../teams/email.js';
import { reconcileGroupRoles } from './group-roles.js';
import { ScimError } from './responses.js';
import { userFilterWhere } from './user-filter.js';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const MAX_RESULTS = 200;
const DEFAULT_COUNT = 100;
const MAX_EXTERNAL_ID = 255;

/** The core User representation of a member; `base` is the absolute /scim/v2 URL. */
export function scimUser(user: User, base: string) {
  return {
    schemas: [USER_SCHEMA],
    id: user.id,
    ...(user.externalId !== null ? { externalId: user.externalId } : {}),
    userName: user.email,
    name: {
      formatted: user.name,
      ...(user.givenName !== null ? { givenName: user.givenName } : {}),
      ...(user.familyName !== null ? { familyName: user.familyName } : {}),
    },
    displayName: user.name,
    emails: [{ value: user.email, type: 'work', primary: true }],
    active: user.active,
    meta: {
      resourceType: 'User',
      created: user.createdAt.toISOString(),
      lastModified: user.updatedAt.toISOString(),
      location: `${base}/Users/${user.id}`,
    },
  };
}

/** What a request sets on a member. */
interface UserFields {
  email: string;
  name: string;
  givenName: string | null;
  familyName: string | null;
  externalId: string | null;
  active: boolean;
}

const invalidValue = (detail: string) => new ScimError(400, detail, 'invalidValue');

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An attribute of a SCIM object, its name compared case-insensitively (RFC 7643 §2.1). */
function attr(o: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : o[key];
}

function optionalText(field: string, value: unknown, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalidValue(`${field} must be a string`);
  const problem = stringProblem(value);
  if (problem) throw invalidValue(`${field} ${problem}`);
  const trimmed = value.trim();
  if (trimmed.length > max) throw invalidValue(`${field} must be at most ${max} characters`);
  return trimmed === '' ? null : trimmed;
}

function name(field: string, value: unknown): string | null {
  const text = optionalText(field, value, 100);
  if (text === null) return null;
  try {
    return validName(field, text);
  } catch (error) {
    if (isDomainError(error)) throw invalidValue(error.message);
    throw error;
  }
}

/** Entra sends booleans as the strings "True" / "False". */
function booleanOf(field: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw invalidValue(`${field} must be true or false`);
}

function emailOf(field: string, value: unknown): string {
  if (typeof value !== 'string' || stringProblem(value) !== null) throw invalidValue(`${field} must be an email address`);
  const parsed = emailSchema.safeParse(value);
  if (!parsed.success) throw invalidValue(`${field} must be an email address (the member's email)`);
  return parsed.data.toLowerCase();
}

/** The primary email of an `emails` value (or the first), undefined when none is given. */
function primaryEmail(emails: unknown): unknown {
  if (emails === undefined || emails === null) return undefined;
  if (!Array.isArray(emails)) throw invalidValue('emails must be an array');
  const entries = emails.filter(isObject);
  const chosen = entries.find((e) => attr(e, 'primary') === true || attr(e, 'primary') === 'true') ?? entries[0];
  return chosen === undefined ? undefined : attr(chosen, 'value');
}

/**
 * A User body (POST, PUT, or a PATCHed representation) as member fields. userName is the email;
 * `emails` is the same value seen twice: `emailFrom` says which one a request meant (PATCH: the
 * one it changed). Absent `active` keeps the member's (a member is never deprovisioned by omission).
 */
function fieldsOf(body: unknown, current: User | null, emailFrom: 'userName' | 'emails' = 'userName'): UserFields {
  if (!isObject(body)) throw new ScimError(400, 'The body must be a JSON object', 'invalidSyntax');
  const userName = attr(body, 'userName');
  if (userName === undefined || userName === null || userName === '') throw invalidValue('userName is required (the member’s email)');
  const email = emailFrom === 'emails' ? emailOf('emails.value', primaryEmail(attr(body, 'emails'))) : emailOf('userName', userName);
  const nameObject = attr(body, 'name');
  if (nameObject !== undefined && nameObject !== null && !isObject(nameObject)) throw invalidValue('name must be an object');
  const nameParts = isObject(nameObject) ? nameObject : {};
  const givenName = name('name.givenName', attr(nameParts, 'givenName'));
  const familyName = name('name.familyName', attr(nameParts, 'familyName'));
  const displayName =
    name('displayName', attr(body, 'displayName')) ??
    name('name.formatted', attr(nameParts, 'formatted')) ??
    name('name', [givenName, familyName].filter(Boolean).join(' ')) ??
    current?.name ??
    validName('displayName', email.slice(0, 100));
  const active = attr(body, 'active');
  return {
    email,
    name: displayName,
    givenName,
    familyName,
    externalId: optionalText('externalId', attr(body, 'externalId'), MAX_EXTERNAL_ID),
    active: active === undefined || active === null ? (current?.active ?? true) : booleanOf('active', active),
  };
}

export interface UserListQuery {
  filter?: string | null;
  startIndex?: number;
  count?: number;
}

export class ScimUserService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly revocation: RevocationService,
  ) {}

  async get(p: Principal, id: string): Promise<User> {
    const user = await this.prisma.user.findFirst({ where: { id, teamId: p.teamId, deletedAt: null } });
    if (!user) throw notFound(id);
    return user;
  }

  async list(p: Principal, query: UserListQuery) {
    const live: Prisma.UserWhereInput = { teamId: p.teamId, deletedAt: null };
    const where = query.filter?.trim() ? { AND: [live, userFilterWhere(query.filter)] } : live;
    const startIndex = Math.max(1, query.startIndex ?? 1);
    const count = Math.min(MAX_RESULTS, Math.max(0, query.count ?? DEFAULT_COUNT));
    const [totalResults, users] = await Promise.all([
      this.prisma.user.count({ where }),
      count === 0
        ? Promise.resolve([])
        : this.prisma.user.findMany({ where, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], skip: startIndex - 1, take: count }),
    ]);
    return { totalResults, startIndex, users };
  }

  /** POST: a new member, or the tombstone of that userName revived (active, keyless). */
  create(p: Principal, actor: AuditActor, body: unknown): Promise<User> {
    const fields = fieldsOf(body, null);
    return this.write(async (tx) => {
      const existing = await tx.user.findUnique({ where: { teamId_email: { teamId: p.teamId, email: fields.email } } });
      if (existing && existing.deletedAt === null) throw uniqueness(fields.email);
      const data = { ...fields, deletedAt: null };
      const user = existing
        ? await tx.user.update({ where: { id: existing.id }, data })
        : await tx.user.create({ data: { ...data, teamId: p.teamId, role: 'MEMBER' } });
      await recordAudit(tx, actor, [
        {
          teamId: p.teamId,
          action: 'member.provisioned',
          targetType: 'user',
          targetId: user.id,
          summary: `${existing ? 'Revived' : 'Provisioned'} ${user.email} (${JSON.stringify(user.name)})${user.active ? '' : ', inactive'}`,
        },
      ]);
      return user;
    });
  }

  /** PUT: the whole user replaced (userName may change if unique). */
  replace(p: Principal, actor: AuditActor, id: string, body: unknown): Promise<User> {
    return this.change(p, actor, id, (current) => fieldsOf(body, current));
  }

  /** PATCH (RFC 7644 §3.5.2) applied to the SCIM representation with scim-patch, then mapped back. */
  patch(p: Principal, actor: AuditActor, id: string, body: unknown): Promise<User> {
    const operations = patchOperations(body);
    return this.change(p, actor, id, (current) => {
      const before = scimUser(current, '');
      let after = applyPatch(before, operations);
      // displayName and name.formatted are one value: the one the operations changed wins.
      const formatted = isObject(attr(after, 'name')) ? attr(attr(after, 'name') as Record<string, unknown>, 'formatted') : undefined;
      if (attr(after, 'displayName') === before.displayName && formatted !== before.name.formatted) {
        after = { ...after, displayName: formatted };
      }
      const userNameChanged = JSON.stringify(attr(after, 'userName')) !== JSON.stringify(before.userName);
      const emailsChanged = JSON.stringify(attr(after, 'emails')) !== JSON.stringify(before.emails);
      return fieldsOf(after, current, !userNameChanged && emailsChanged ? 'emails' : 'userName');
    });
  }

  /** DELETE: a tombstone (deletedAt, inactive), every personal key revoked. */
  async delete(p: Principal, actor: AuditActor, id: string): Promise<void> {
    await this.write(async (tx, revoke) => {
      const user = await lockedMember(tx, p.teamId, id);
      refuseSuperAdmin(user);
      const now = new Date();
      const deleted = await tx.user.update({ where: { id }, data: { deletedAt: now, active: false } });
      await deprovision(tx, revoke, actor, deleted, 'Deleted', now);
      // A deleted user leaves its groups (RFC 7644 §3.6): a later revival by POST starts without
      // them, and without the role an admin group gave.
      await tx.scimGroupMember.deleteMany({ where: { userId: id } });
      await reconcileGroupRoles(tx, actor, p.teamId, [id]);
    });
  }

  private change(p: Principal, actor: AuditActor, id: string, fieldsFor: (current: User) => UserFields): Promise<User> {
    return this.write(async (tx, revoke) => {
      const current = await lockedMember(tx, p.teamId, id);
      const fields = fieldsFor(current);
      if (!fields.active && current.role === 'SUPER_ADMIN') refuseSuperAdmin(current);
      if (fields.email !== current.email) {
        const taken = await tx.user.findUnique({ where: { teamId_email: { teamId: p.teamId, email: fields.email } } });
        if (taken) throw uniqueness(fields.email);
      }
      const user = await tx.user.update({ where: { id }, data: fields });
      if (current.active && !user.active) {
        await deprovision(tx, revoke, actor, user, 'Deactivated', new Date());
      } else {
        await recordAudit(tx, actor, [
          { teamId: p.teamId, action: 'member.updated', targetType: 'user', targetId: id, summary: changeSummary(current, user) },
        ]);
      }
      return user;
    });
  }

  /** A transaction of the revocation path; a concurrent insert of the same email is a 409 too. */
  private async write<T>(work: (tx: Prisma.TransactionClient, revoke: Revoker) => Promise<T>): Promise<T> {
    try {
      return await this.revocation.transaction(work);
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new ScimError(409, 'A member of this team already has that userName', 'uniqueness');
      }
      throw error;
    }
  }
}

const notFound = (id: string) => new ScimError(404, `User ${id} not found`);
const uniqueness = (email: string) => new ScimError(409, `A member of this team already has the userName ${email}`, 'uniqueness');

function refuseSuperAdmin(user: User): void {
  if (user.role === 'SUPER_ADMIN') {
    throw new ScimError(400, 'SCIM never deactivates or deletes a SUPER_ADMIN: a SUPER_ADMIN changes that in Keyplane', 'mutability');
  }
}

/** The live member `id` of the team, locked for the transaction (concurrent PATCHes apply one after the other). */
async function lockedMember(tx: Prisma.TransactionClient, teamId: string, id: string): Promise<User> {
  const locked = await tx.$queryRaw<
    { id: string }[]
  >`SELECT "id" FROM "User" WHERE "id" = ${id} AND "teamId" = ${teamId} AND "deletedAt" IS NULL FOR UPDATE`;
  if (locked.length === 0) throw notFound(id);
  return tx.user.findUniqueOrThrow({ where: { id } });
}

/** In the change's transaction: every personal key revoked, open invitations ended, the event. */
async function deprovision(tx: Prisma.TransactionClient, revoke: Revoker, actor: AuditActor, user: User, what: string, at: Date) {
  const keys = await revoke.where({ createdById: user.id, kind: 'PERSONAL' }, { reason: 'DEPROVISIONED', actorId: null, actor, at });
  const invitations = await tx.invitation.updateMany({
    where: { teamId: user.teamId, email: user.email, acceptedAt: null, expiresAt: { gt: at } },
    data: { expiresAt: at },
  });
  await recordAudit(
    tx,
    actor,
    [
      {
        teamId: user.teamId,
        action: 'member.deprovisioned',
        targetType: 'user',
        targetId: user.id,
        summary: `${what} ${user.email}: ${keys.length} personal key(s) revoked, ${invitations.count} invitation(s) ended`,
      },
    ],
    at,
  );
}

function changeSummary(before: User, after: User): string {
  const fields = ['email', 'name', 'givenName', 'familyName', 'externalId', 'active'] as const;
  const changed = fields
    .filter((f) => before[f] !== after[f])
    .map((f) => `${f} ${JSON.stringify(before[f])} → ${JSON.stringify(after[f])}`);
  return `Updated ${after.email}: ${changed.length ? changed.join(', ') : 'no change'}`;
}

const patchBody = z.object({
  schemas: z.array(z.string()).refine((s) => s.includes(PATCH_OP_SCHEMA), `schemas must contain ${PATCH_OP_SCHEMA}`),
  Operations: z
    .array(z.object({ op: z.string(), path: z.string().optional(), value: z.unknown().optional() }).passthrough())
    .min(1)
    .max(100),
});

/** The PatchOp's operations, op names lower-cased (Entra sends "Replace", "Add"). */
/**
 * PATCH operations applied to a resource's SCIM representation (scim-patch, the document left
 * untouched); its refusals as RFC 7644 errors: noTarget, else invalidValue.
 */
export function applyPatch(before: object, operations: ReturnType<typeof patchOperations>): Record<string, unknown> {
  try {
    // scim-patch types meta's dates as Date; it neither reads nor writes them here.
    return scimPatch(before as unknown as ScimResource, operations, {
      mutateDocument: false,
      treatMissingAsAdd: true,
    }) as unknown as Record<string, unknown>;
  } catch (error) {
    const scimType = error instanceof Error && error.name === 'NoTarget' ? 'noTarget' : 'invalidValue';
    throw new ScimError(400, error instanceof Error ? error.message : 'Invalid PATCH operation', scimType);
  }
}

export function patchOperations(body: unknown) {
  const parsed = patchBody.safeParse(body);
  if (!parsed.success)
    throw invalidValue(`Not a PatchOp: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data.Operations.flatMap((operation): ScimOperation[] => {
    const op = operation.op.toLowerCase();
    if (op !== 'add' && op !== 'remove' && op !== 'replace') throw invalidValue(`Unknown PATCH op ${operation.op}`);
    if (op === 'remove' && !operation.path) throw new ScimError(400, 'A remove operation needs a path', 'noTarget');
    return op !== 'remove' && pathless(operation) ? splitComplexValues(op, operation.value) : [{ ...operation, op } as ScimOperation];
  });
}

type ScimOperation = Parameters<typeof scimPatch>[1][number];

const pathless = (operation: { path?: string; value?: unknown }): operation is { value: Record<string, unknown> } =>
  !operation.path && isObject(operation.value);

/**
 * A pathless add/replace of a complex attribute (`{"name": {"familyName": …}}`) sets the
 * sub-attributes given and leaves the others (RFC 7644 §3.5.2.1, §3.5.2.3); scim-patch would
 * replace the whole `name`, losing givenName and the member's name: one operation per sub-attribute.
 */
function splitComplexValues(op: 'add' | 'replace', value: Record<string, unknown>): ScimOperation[] {
  const simple: Record<string, unknown> = {};
  const split: ScimOperation[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (isObject(v) && !key.toLowerCase().startsWith('urn:')) {
      for (const [sub, subValue] of Object.entries(v)) split.push({ op, path: `${key}.${sub}`, value: subValue } as ScimOperation);
    } else simple[key] = v;
  }
  return [...(Object.keys(simple).length > 0 ? [{ op, value: simple } as ScimOperation] : []), ...split];
}
