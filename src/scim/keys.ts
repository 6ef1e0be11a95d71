// SCIM API keys (kps_, SPEC §5): a team's keys for its identity provider, managed by its admins in
// the team settings, apart from personal keys. ApiKey rows of kind SCIM: the same format, hashing,
// verification cache and revocation path as every key, ENABLED or REVOKED (never DISABLED, never
// expiring), and a regenerated one keeps its previous secret up to 168 hours (keys/rotation.ts).
// Who may call this (ENTERPRISE admins) is the fields' rule (scim/scim-api-key.ts). Every change
// writes its audit event (scim_key.created / rotated / revoked) in its own transaction.
import { type AuditActor, actorOfPrincipal } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import type { Principal } from '../auth/principal.js';
import { badInput, notFound } from '../domain/errors.js';
import { validName } from '../domain/input.js';
import { type ListArgs, listPage } from '../domain/list-page.js';
import type { ApiKey, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { type KeyChanges, keyChanged } from '../keys/events.js';
import { displayHint } from '../keys/format.js';
import { type OverlapRule, overlapEnd, rotatedSecret } from '../keys/rotation.js';
import { mintKey } from '../keys/service.js';
import { effectiveLifecycle } from '../keys/status.js';
import type { RevocationService } from '../revocation/service.js';

/** regenerateScimApiKey's keepPreviousForHours (SPEC §5: 0..168). */
export const SCIM_KEY_OVERLAP: OverlapRule = { field: 'keepPreviousForHours', unit: 'hour', max: 168 };

const target = (key: ApiKey) => ({ teamId: key.teamId, targetType: 'scim_key' as const, targetId: key.id });
const keyLabel = (key: ApiKey) => `${key.name} (${displayHint(key.kind, key.hint)})`;

type KeyQuery = { select?: Prisma.ApiKeySelect; include?: Prisma.ApiKeyInclude };

export class ScimKeyService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly revocation: RevocationService,
    private readonly changes: KeyChanges,
    private readonly pepper?: string,
    /** this process's index of live keys learns the hash before the database's notice (KeyService) */
    private readonly minted: (hash: string) => void = () => {},
  ) {}

  private scope(p: Principal): Prisma.ApiKeyWhereInput {
    return { teamId: p.teamId, kind: 'SCIM' };
  }

  /** A new key for the team; the secret exists in this answer only. */
  async generate(
    p: Principal,
    rawName: string,
    actor: AuditActor = actorOfPrincipal(p, {}),
  ): Promise<{ scimApiKey: ApiKey; secret: string }> {
    const name = validName('name', rawName);
    const material = mintKey('SCIM', this.pepper);
    this.minted(material.hash);
    const scimApiKey = await this.prisma.$transaction(async (tx) => {
      const created = await tx.apiKey.create({
        data: { teamId: p.teamId, kind: 'SCIM', name, hash: material.hash, hint: material.hint, createdById: p.userId },
      });
      await recordAudit(tx, actor, [
        { ...target(created), action: 'scim_key.created', summary: `Generated SCIM key ${keyLabel(created)}` },
      ]);
      return created;
    });
    return { scimApiKey, secret: material.secret };
  }

  /** The team's SCIM keys, revoked ones included, newest first. */
  async list(p: Principal, args: ListArgs = {}, query: KeyQuery = {}) {
    const scope = this.scope(p);
    const page = await listPage(
      args,
      async (id) => (await this.prisma.apiKey.findFirst({ where: { ...scope, id }, select: { createdAt: true } }))?.createdAt ?? null,
      'createdAt',
      'desc',
    );
    return this.prisma.apiKey.findMany({
      ...query,
      where: page.after ? { AND: [scope, page.after as Prisma.ApiKeyWhereInput] } : scope,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: page.take,
    });
  }

  /** Another team's key, or any other kind of key, is NOT_FOUND exactly as an unknown id. */
  private async find(p: Principal, id: string): Promise<ApiKey> {
    const key = await this.prisma.apiKey.findFirst({ where: { ...this.scope(p), id } });
    if (!key) throw notFound('SCIM API key', id);
    return key;
  }

  /**
   * Same id and name, new secret. The previous secret keeps working `keepPreviousForHours` more
   * (0 = it fails from the moment this answers), so that the identity provider can be switched
   * to the new one without a gap; regenerating again during that time ends the older secret.
   */
  async regenerate(
    p: Principal,
    id: string,
    keepPreviousForHours = 0,
    actor: AuditActor = actorOfPrincipal(p, {}),
  ): Promise<{ scimApiKey: ApiKey; secret: string }> {
    const key = await this.find(p, id);
    const now = new Date();
    const previousUntil = overlapEnd(SCIM_KEY_OVERLAP, keepPreviousForHours, now);
    if (effectiveLifecycle(key).status === 'REVOKED') throw badInput('id', 'a revoked key cannot be regenerated');
    const material = mintKey('SCIM', this.pepper);
    const scimApiKey = await this.prisma.$transaction(async (tx) => {
      // A secret found in public gets no grace period (as for personal keys, lifecycle.ts).
      if (previousUntil && (await tx.apiKeyExposure.count({ where: { keyId: id, resolvedAt: null, ignoredAt: null } })) > 0) {
        throw badInput('keepPreviousForHours', 'an exposed key cannot keep its old secret: regenerate it with 0');
      }
      // Conditional on the old hash: two concurrent regenerations cannot both succeed.
      const [updated] = await tx.apiKey.updateManyAndReturn({
        where: { id, hash: key.hash, status: 'ENABLED' },
        data: rotatedSecret(key.hash, material, previousUntil),
      });
      if (!updated) throw badInput('id', 'the key changed meanwhile; try again');
      // The retired secret's scanner findings are resolved (as for personal keys, lifecycle.ts).
      await tx.apiKeyExposure.updateMany({ where: { keyId: id, resolvedAt: null }, data: { resolvedAt: now } });
      const kept = previousUntil ? `; the previous secret works until ${previousUntil.toISOString()}` : '';
      await recordAudit(tx, actor, [
        {
          ...target(key),
          action: 'scim_key.rotated',
          summary: `Regenerated SCIM key ${keyLabel(key)}: new secret ${displayHint('SCIM', material.hint)}${kept}`,
        },
      ]);
      return updated;
    });
    this.changes.publish({
      ...keyChanged(scimApiKey, 'regenerated', { stopped: key.hash, started: material.hash }),
      previousSecretExpiresAt: scimApiKey.previousSecretExpiresAt, // as stored: the row is the truth
    });
    return { scimApiKey, secret: material.secret };
  }

  /** Through the one revocation path (REVOKED_BY_ADMIN): both secrets fail at once, the creator is told. */
  async revoke(p: Principal, id: string, actor: AuditActor = actorOfPrincipal(p, {})): Promise<ApiKey> {
    const key = await this.find(p, id);
    // The revocation path writes `scim_key.revoked` in its transaction (by the key's kind).
    const [revoked] = await this.revocation.revoke({ id: key.id }, { reason: 'REVOKED_BY_ADMIN', actorId: p.userId, actor });
    return revoked ?? key; // already revoked: left as it was
  }
}
