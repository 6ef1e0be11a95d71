// Personal API keys: issuing, listing and finding them with the visibility rules of SPEC §4.
import { type AuditActor, SYSTEM_ACTOR } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import type { Principal } from '../auth/principal.js';
import { isAdminRole } from '../auth/principal.js';
import { badInput, notFound } from '../domain/errors.js';
import { expiryDays, futureDate, validName } from '../domain/input.js';
import { type ListArgs, listPage } from '../domain/list-page.js';
import type { ApiKey, Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { KeyKind } from '../generated/prisma/enums.js';
import { displayHint, generateKey, hashKey, hintOf } from './format.js';

const DAY_MS = 86_400_000;

export interface KeyMaterial {
  secret: string;
  hash: string;
  hint: string;
}

export function mintKey(kind: KeyKind, pepper?: string): KeyMaterial {
  const secret = generateKey(kind);
  return { secret, hash: hashKey(secret, pepper), hint: hintOf(secret) };
}

export interface ExpiryInput {
  expiresInDays?: number | null;
  expiresAt?: Date | null;
}

/** The owner's chosen expiry, from at most one of the two fields, in the future. */
export function chosenExpiry(input: ExpiryInput, now: Date): Date | null {
  const { expiresInDays, expiresAt } = input;
  if (expiresInDays != null && expiresAt != null) {
    throw badInput('input', 'give at most one of expiresInDays and expiresAt');
  }
  if (expiresInDays != null) {
    return new Date(now.getTime() + expiryDays('input.expiresInDays', expiresInDays) * DAY_MS);
  }
  return expiresAt == null ? null : futureDate('input.expiresAt', expiresAt, now);
}

/** A team-wide expiry overrides the owner's choice (SPEC §4 "Expiry"). */
export function effectiveExpiry(createdAt: Date, chosen: Date | null, teamExpiryDays: number | null): Date | null {
  return teamExpiryDays == null ? chosen : new Date(createdAt.getTime() + teamExpiryDays * DAY_MS);
}

export interface IssueKeyInput extends ExpiryInput {
  name: string;
}

type Db = PrismaClient | Prisma.TransactionClient;

export class KeyService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly pepper?: string,
    /**
     * Told each new key's hash as it is minted: this process's index of live keys then knows it
     * before the database's change notice comes back, so it works at once even from an address
     * blocked for guessing (a hash in the index only means "read the database").
     */
    private readonly minted: (hash: string) => void = () => {},
  ) {}

  /**
   * Issues a personal key to a user, with its audit event (api_key.created by `actor`), inside the
   * caller's transaction `db` (or one of its own). SYSTEM by default: set-ups and scripts.
   */
  async issuePersonalKey(
    owner: { userId: string; teamId: string },
    input: IssueKeyInput,
    db: Db = this.prisma,
    actor: AuditActor = SYSTEM_ACTOR,
  ): Promise<{ apiKey: ApiKey; secret: string }> {
    if ('$transaction' in db) return db.$transaction((tx) => this.issuePersonalKey(owner, input, tx, actor));
    const name = validName('input.name', input.name);
    const now = new Date();
    const chosen = chosenExpiry(input, now);
    const team = await db.team.findUniqueOrThrow({ where: { id: owner.teamId }, select: { keyExpiryDays: true } });
    const material = mintKey('PERSONAL', this.pepper);
    this.minted(material.hash);
    const apiKey = await db.apiKey.create({
      data: {
        teamId: owner.teamId,
        kind: 'PERSONAL',
        name,
        hash: material.hash,
        hint: material.hint,
        createdById: owner.userId,
        createdAt: now,
        chosenExpiresAt: chosen,
        expiresAt: effectiveExpiry(now, chosen, team.keyExpiryDays),
      },
    });
    await recordAudit(
      db,
      actor,
      [
        {
          teamId: owner.teamId,
          action: 'api_key.created',
          targetType: 'api_key',
          targetId: apiKey.id,
          summary: `Created ${apiKey.name} (${displayHint('PERSONAL', apiKey.hint)})${apiKey.expiresAt ? `, expires ${apiKey.expiresAt.toISOString()}` : ''}`,
        },
      ],
      now,
    );
    return { apiKey, secret: material.secret };
  }

  /** The viewer's own personal keys, revoked ones included, newest first. */
  async listOwn(principal: Principal, args: ListArgs = {}, query: { select?: Prisma.ApiKeySelect; include?: Prisma.ApiKeyInclude } = {}) {
    const own: Prisma.ApiKeyWhereInput = { createdById: principal.userId, teamId: principal.teamId, kind: 'PERSONAL' };
    const page = await listPage(
      args,
      async (id) => (await this.prisma.apiKey.findFirst({ where: { ...own, id }, select: { createdAt: true } }))?.createdAt ?? null,
      'createdAt',
      'desc',
    );
    return this.prisma.apiKey.findMany({
      ...query,
      where: page.after ? { AND: [own, page.after as Prisma.ApiKeyWhereInput] } : own,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: page.take,
    });
  }

  /** A personal key the principal may see: its own, or (admins) any of the team's. */
  visibleWhere(principal: Principal, id: string): Prisma.ApiKeyWhereUniqueInput {
    return {
      id,
      teamId: principal.teamId,
      kind: 'PERSONAL',
      ...(isAdminRole(principal.role) ? {} : { createdById: principal.userId }),
    };
  }

  /** `query`: plugin-prisma's selection for the field that returns it (whole row by default). */
  async findVisible(
    principal: Principal,
    id: string,
    query: { select?: Prisma.ApiKeySelect; include?: Prisma.ApiKeyInclude } = {},
  ): Promise<ApiKey> {
    const key = (await this.prisma.apiKey.findUnique({ ...query, where: this.visibleWhere(principal, id) })) as ApiKey | null;
    if (!key) throw notFound('API key', id);
    return key;
  }
}
