// What an owner (and, where policy.ts allows, an admin) does to an existing personal key.
// Every change that affects authentication is published on the KeyChanges bus once it is committed.
// Every change writes its audit event in its own transaction (`actor`: who asked, from where).
import { type AuditActor, actorOfPrincipal } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import { assertKeyAction, type KeyAction } from '../auth/policy.js';
import type { Principal } from '../auth/principal.js';
import { badInput } from '../domain/errors.js';
import { futureDate, validName } from '../domain/input.js';
import type { ApiKey, PrismaClient } from '../generated/prisma/client.js';
import type { RevocationService } from '../revocation/service.js';
import { type KeyChanges, keyChanged } from './events.js';
import { displayHint } from './format.js';
import { API_KEY_OVERLAP, NO_PREVIOUS_SECRET, overlapEnd, rotatedSecret } from './rotation.js';
import { type KeyService, mintKey } from './service.js';
import { effectiveLifecycle } from './status.js';

function assertNotRevoked(key: ApiKey, what: string): void {
  const state = effectiveLifecycle(key);
  if (state.status === 'REVOKED') {
    throw badInput('id', `a ${state.revocationReason === 'EXPIRED' ? 'expired' : 'revoked'} key cannot be ${what}`);
  }
}

const target = (key: ApiKey) => ({ teamId: key.teamId, targetType: 'api_key' as const, targetId: key.id });
const keyLabel = (key: ApiKey) => `${key.name} (${displayHint(key.kind, key.hint)})`;
const sameTime = (a: Date | null, b: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);
const when = (at: Date | null) => at?.toISOString() ?? 'never';

/** The effective expiry's change; the owner's own choice too when a team expiry overrides it. */
function expirySummary(before: ApiKey, after: ApiKey): string {
  const chosen = sameTime(before.expiresAt, after.expiresAt)
    ? `; own choice ${when(before.chosenExpiresAt)} → ${when(after.chosenExpiresAt)} (the team expiry applies)`
    : '';
  return `Expiry of ${keyLabel(after)}: ${when(before.expiresAt)} → ${when(after.expiresAt)}${chosen}`;
}

export class KeyLifecycle {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly keys: KeyService,
    private readonly revocation: RevocationService,
    private readonly changes: KeyChanges,
    private readonly pepper?: string,
  ) {}

  /** Visibility (NOT_FOUND) first, then the action's rule (FORBIDDEN / PLAN_REQUIRED). */
  private async authorize(p: Principal, id: string, action: KeyAction): Promise<ApiKey> {
    const key = await this.keys.findVisible(p, id);
    assertKeyAction(p, key, action);
    return key;
  }

  async rename(p: Principal, id: string, rawName: string, actor: AuditActor = actorOfPrincipal(p, {})): Promise<ApiKey> {
    const before = await this.authorize(p, id, 'rename');
    const name = validName('name', rawName);
    const key = await this.prisma.$transaction(async (tx) => {
      const renamed = await tx.apiKey.update({ where: { id }, data: { name } });
      if (before.name !== name) {
        await recordAudit(tx, actor, [
          { ...target(renamed), action: 'api_key.renamed', summary: `Renamed ${keyLabel(before)} to ${JSON.stringify(name)}` },
        ]);
      }
      return renamed;
    });
    // viewer.apiKey shows the name from the verification cache: dropped here at once (other
    // instances: the trigger's NOTIFY).
    this.changes.publish(keyChanged(key, 'updated'));
    return key;
  }

  /**
   * Same id and name, new secret. The old secret fails from the moment this returns, or keeps
   * working `overlapMinutes` more (0..1440, SPEC §5; rotation.ts): only an enabled key's, since
   * re-enabling a key revives its current secret only.
   */
  async regenerate(
    p: Principal,
    id: string,
    overlapMinutes = 0,
    actor: AuditActor = actorOfPrincipal(p, {}),
  ): Promise<{ apiKey: ApiKey; secret: string }> {
    const key = await this.authorize(p, id, 'regenerate');
    assertNotRevoked(key, 'regenerated');
    const now = new Date();
    const previousUntil = overlapEnd(API_KEY_OVERLAP, overlapMinutes, now);
    if (previousUntil && key.status !== 'ENABLED') {
      throw badInput('overlapMinutes', 'a disabled key keeps no previous secret: enable it first, or regenerate with 0');
    }
    const material = mintKey(key.kind, this.pepper);
    const apiKey = await this.prisma.$transaction(async (tx) => {
      // A secret found in public gets no grace period: resolving its findings below while it kept
      // working would hide it from exposedApiKeys and from auto revoke for up to a day.
      if (previousUntil && (await tx.apiKeyExposure.count({ where: { keyId: id, resolvedAt: null, ignoredAt: null } })) > 0) {
        throw badInput('overlapMinutes', 'an exposed key cannot keep its old secret: regenerate it with 0');
      }
      // Conditional on the old hash: two concurrent regenerations cannot both succeed.
      const [updated] = await tx.apiKey.updateManyAndReturn({
        where: { id, hash: key.hash, status: key.status },
        data: rotatedSecret(key.hash, material, previousUntil),
      });
      if (!updated) throw badInput('id', 'the key changed meanwhile; try again');
      // The exposed secret is being retired: its findings are resolved, and a later REVOKE choice
      // on enabling auto revoke must not take the new secret with it (with an overlap, the owner
      // chose to let the old secret run out).
      await tx.apiKeyExposure.updateMany({ where: { keyId: id, resolvedAt: null }, data: { resolvedAt: now } });
      const overlap = previousUntil ? `; the previous secret works until ${previousUntil.toISOString()}` : '';
      await recordAudit(tx, actor, [
        {
          ...target(key),
          action: 'api_key.rotated',
          summary: `Regenerated ${keyLabel(key)}: new secret ${displayHint(key.kind, material.hint)}${overlap}`,
        },
      ]);
      return updated;
    });
    this.changes.publish({
      ...keyChanged(apiKey, 'regenerated', { stopped: key.hash, started: material.hash }),
      previousSecretExpiresAt: apiKey.previousSecretExpiresAt, // as stored: the row is the truth
    });
    return { apiKey, secret: material.secret };
  }

  /** The owner's delete: REVOKED with reason REVOKED_BY_OWNER (the record stays for the audit). */
  async delete(p: Principal, id: string, actor: AuditActor = actorOfPrincipal(p, {})): Promise<ApiKey> {
    const key = await this.authorize(p, id, 'delete');
    const [revoked] = await this.revocation.revoke({ id: key.id }, { reason: 'REVOKED_BY_OWNER', actorId: p.userId, actor });
    return revoked ?? key; // already revoked or expired: left as it was
  }

  async setEnabled(p: Principal, id: string, enabled: boolean, actor: AuditActor = actorOfPrincipal(p, {})): Promise<ApiKey> {
    const key = await this.authorize(p, id, 'setEnabled');
    assertNotRevoked(key, enabled ? 'enabled' : 'disabled');
    const updated = await this.prisma.$transaction(async (tx) => {
      const [row] = await tx.apiKey.updateManyAndReturn({
        where: { id, status: { not: 'REVOKED' } },
        // Disabling ends a previous secret's overlap: re-enabling revives the current secret only.
        data: enabled ? { status: 'ENABLED' } : { status: 'DISABLED', ...NO_PREVIOUS_SECRET },
      });
      if (!row) throw badInput('id', `a revoked key cannot be ${enabled ? 'enabled' : 'disabled'}`); // revoked meanwhile
      if (row.status !== key.status) {
        await recordAudit(tx, actor, [
          {
            ...target(row),
            action: enabled ? 'api_key.enabled' : 'api_key.disabled',
            summary: `${enabled ? 'Enabled' : 'Disabled'} ${keyLabel(row)}`,
          },
        ]);
      }
      return row;
    });
    if (updated.status !== key.status) this.changes.publish(keyChanged(updated, enabled ? 'updated' : 'disabled'));
    return updated;
  }

  /** null = never (a team-wide expiry, when set, still applies and wins). */
  async setExpiry(p: Principal, id: string, expiresAt: Date | null, actor: AuditActor = actorOfPrincipal(p, {})): Promise<ApiKey> {
    const key = await this.authorize(p, id, 'setExpiry');
    assertNotRevoked(key, 'changed');
    if (expiresAt) futureDate('expiresAt', expiresAt);
    const team = await this.prisma.team.findUniqueOrThrow({ where: { id: key.teamId }, select: { keyExpiryDays: true } });
    const updated = await this.prisma.$transaction(async (tx) => {
      const row = await tx.apiKey.update({
        where: { id },
        data: { chosenExpiresAt: expiresAt, ...(team.keyExpiryDays == null ? { expiresAt } : {}) },
      });
      if (!sameTime(key.chosenExpiresAt, row.chosenExpiresAt) || !sameTime(key.expiresAt, row.expiresAt)) {
        await recordAudit(tx, actor, [{ ...target(row), action: 'api_key.expiry_changed', summary: expirySummary(key, row) }]);
      }
      return row;
    });
    this.changes.publish(keyChanged(updated, 'updated'));
    return updated;
  }
}
