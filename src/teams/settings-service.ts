// A team's API key settings. A team expiry of N days sets every live personal key's expiresAt to
// max(createdAt + N days, now); null restores each key's own choice (SPEC §4 "Expiry"). Every
// change is recorded (who, when, before/after), and audited: settings.updated for the team and
// api_key.expiry_changed for each key whose expiry it moved (one event per changed object).
import { type AuditActor, actorOfPrincipal } from '../audit/actor.js';
import { type AuditEntry, recordAudit } from '../audit/record.js';
import type { Principal } from '../auth/principal.js';
import { badInput } from '../domain/errors.js';
import { expiryDays, wholeNumber } from '../domain/input.js';
import type { Prisma, PrismaClient, Team } from '../generated/prisma/client.js';
import { type KeyChanges, type KeyRow, keyChanged } from '../keys/events.js';
import { displayHint } from '../keys/format.js';
import { MAX_REMINDER_DAYS, MAX_REMINDER_THRESHOLDS } from '../notifications/expiry-reminders.js';
import type { RevocationService, Revoker } from '../revocation/service.js';

export interface SettingsInput {
  allowMembersToGenerateKeys?: boolean | null;
  keyExpiryDays?: number | null;
  autoRevokeExposedKeys?: boolean | null;
  exposedKeysAction?: 'REVOKE' | 'IGNORE' | null;
  /** null or absent = left as it is; [] = no reminders */
  expiryReminderDays?: readonly number[] | null;
  /** turns /scim/v2 on for the team (SPEC §5) */
  scimEnabled?: boolean | null;
}

export type Settings = Pick<
  Team,
  'allowMembersToGenerateKeys' | 'keyExpiryDays' | 'autoRevokeExposedKeys' | 'expiryReminderDays' | 'scimEnabled'
>;

const settingsOf = (t: Settings): Settings => ({
  allowMembersToGenerateKeys: t.allowMembersToGenerateKeys,
  keyExpiryDays: t.keyExpiryDays,
  autoRevokeExposedKeys: t.autoRevokeExposedKeys,
  expiryReminderDays: t.expiryReminderDays,
  scimEnabled: t.scimEnabled,
});

const when = (at: Date | null) => at?.toISOString() ?? 'never';

/** settings.updated when a setting changed, and one api_key.expiry_changed per key whose expiry moved. */
function settingsEvents(
  teamId: string,
  before: Settings,
  after: Settings,
  keys: { id: string; expiresAt: Date | null; previousExpiresAt: Date | null; name: string; hint: string }[],
  ignoredExposures: number,
): AuditEntry[] {
  const changes = (Object.keys(after) as (keyof Settings)[])
    // by value: expiryReminderDays is a list
    .filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]))
    .map((field) => `${field} ${JSON.stringify(before[field])} → ${JSON.stringify(after[field])}`);
  if (ignoredExposures > 0) changes.push(`${ignoredExposures} open exposure finding(s) ignored`);
  const events: AuditEntry[] = changes.length
    ? [{ teamId, action: 'settings.updated', targetType: 'team', targetId: teamId, summary: `Settings: ${changes.join(', ')}` }]
    : [];
  for (const key of keys) {
    if ((key.expiresAt?.getTime() ?? null) === (key.previousExpiresAt?.getTime() ?? null)) continue;
    events.push({
      teamId,
      action: 'api_key.expiry_changed',
      targetType: 'api_key',
      targetId: key.id,
      summary: `Expiry of ${key.name} (${displayHint('PERSONAL', key.hint)}): ${when(key.previousExpiresAt)} → ${when(key.expiresAt)} (team expiry ${after.keyExpiryDays === null ? 'removed' : `${after.keyExpiryDays} days`})`,
    });
  }
  return events;
}

/** SPEC §5: 0..5 distinct whole days in 1..90; kept largest first (the order they come in). */
function reminderDays(days: readonly number[]): number[] {
  const field = 'input.expiryReminderDays';
  if (days.length > MAX_REMINDER_THRESHOLDS) throw badInput(field, `at most ${MAX_REMINDER_THRESHOLDS} thresholds`);
  for (const d of days) wholeNumber(field, d, 1, MAX_REMINDER_DAYS);
  if (new Set(days).size !== days.length) throw badInput(field, 'must not repeat a value');
  return [...days].sort((a, b) => b - a);
}

export class SettingsService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly keyChanges: KeyChanges,
    private readonly revocation: RevocationService,
    /**
     * Told once a change has committed: this process's verification cache holds the team row
     * (viewer.team; the SCIM gate reads plan and scimEnabled from it) and drops it at once, so the
     * change holds from this answer on; other instances hear the Team trigger's NOTIFY.
     */
    private readonly teamChanged: (teamId: string) => void = () => {},
  ) {}

  async get(teamId: string): Promise<Settings> {
    return settingsOf(await this.prisma.team.findUniqueOrThrow({ where: { id: teamId } }));
  }

  async update(p: Principal, input: SettingsInput, actor: AuditActor = actorOfPrincipal(p, {})) {
    const days = input.keyExpiryDays;
    if (days != null) expiryDays('input.keyExpiryDays', days); // null: never expire
    const reminders = input.expiryReminderDays == null ? undefined : reminderDays(input.expiryReminderDays);
    const now = new Date();
    const result = await this.revocation.transaction(async (tx, revoke) => {
      // The team row is held for the change: a scanner report deciding on auto revoke waits for it.
      await tx.$executeRawUnsafe(`SELECT 1 FROM "Team" WHERE "id" = $1 FOR UPDATE`, p.teamId);
      const before = settingsOf(await tx.team.findUniqueOrThrow({ where: { id: p.teamId } }));
      const after: Settings = {
        allowMembersToGenerateKeys: input.allowMembersToGenerateKeys ?? before.allowMembersToGenerateKeys,
        keyExpiryDays: days === undefined ? before.keyExpiryDays : days,
        autoRevokeExposedKeys: input.autoRevokeExposedKeys ?? before.autoRevokeExposedKeys,
        expiryReminderDays: reminders ?? before.expiryReminderDays,
        scimEnabled: input.scimEnabled ?? before.scimEnabled,
      };
      const exposures = await this.exposuresOnEnabling(tx, revoke, p, input, before, after, now, actor);
      await tx.team.update({ where: { id: p.teamId }, data: after });
      let changed: (KeyRow & { previousExpiresAt: Date | null; name: string; hint: string })[] = [];
      if (after.keyExpiryDays !== before.keyExpiryDays) {
        // Live personal keys only: revoked and already expired keys stay as they are.
        const expiry =
          after.keyExpiryDays === null ? `"chosenExpiresAt"` : `GREATEST("createdAt" + make_interval(days => $3::int), $2::timestamptz)`;
        // The old expiry comes along (for the audit events) from the rows as locked before the update.
        changed = await tx.$queryRawUnsafe(
          `WITH old AS (SELECT "id", "expiresAt" FROM "ApiKey"
                         WHERE "teamId" = $1 AND "kind" = 'PERSONAL' AND "status" <> 'REVOKED'
                           AND ("expiresAt" IS NULL OR "expiresAt" > $2::timestamptz)
                         FOR UPDATE)
           UPDATE "ApiKey" k SET "expiresAt" = ${expiry}, "updatedAt" = $2::timestamptz
             FROM old WHERE k."id" = old."id"
           RETURNING k."id", k."teamId", k."kind", k."createdById", k."hash", k."status", k."expiresAt", k."updatedAt",
                     k."revokedAt", k."revocationReason", k."revokedById",
                     old."expiresAt" AS "previousExpiresAt", k."name", k."hint"`,
          p.teamId,
          now,
          // $3 only where the statement uses it: an unreferenced parameter has no type in PostgreSQL
          ...(after.keyExpiryDays === null ? [] : [after.keyExpiryDays]),
        );
      }
      await tx.settingsChange.create({ data: { teamId: p.teamId, actorId: p.userId, before, after } });
      const ignored = input.exposedKeysAction === 'IGNORE' ? exposures.openCount : 0;
      await recordAudit(tx, actor, settingsEvents(p.teamId, before, after, changed, ignored), now);
      return { settings: after, changed, exposures };
    });
    this.teamChanged(p.teamId);
    const expired = result.changed.filter((k) => k.expiresAt && k.expiresAt.getTime() <= now.getTime());
    for (const key of result.changed) {
      const isExpired = key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime();
      this.keyChanges.publish(keyChanged(key, isExpired ? 'expired' : 'updated'));
    }
    return {
      settings: result.settings,
      updatedKeyCount: result.changed.length,
      expiredKeyCount: expired.length,
      openExposureCount: result.exposures.openCount,
      warning: result.exposures.warning,
    };
  }

  /**
   * Turning auto revoke on while exposures are open needs the admin's choice (SPEC §1): without
   * one the setting stays off and the payload warns; REVOKE revokes those keys (reason EXPOSED),
   * IGNORE marks the exposures ignored. Either way the setting is then on.
   */
  private async exposuresOnEnabling(
    tx: Prisma.TransactionClient,
    revoke: Revoker,
    p: Principal,
    input: SettingsInput,
    before: Settings,
    after: Settings,
    now: Date,
    actor: AuditActor,
  ): Promise<{ openCount: number; warning: string | null }> {
    const none = { openCount: 0, warning: null };
    if (!after.autoRevokeExposedKeys || before.autoRevokeExposedKeys) return none;
    const open = await tx.apiKeyExposure.findMany({
      where: { teamId: p.teamId, resolvedAt: null, ignoredAt: null },
      select: { id: true, keyId: true },
    });
    if (open.length === 0) return none;
    switch (input.exposedKeysAction) {
      case 'REVOKE': {
        const keyIds = [...new Set(open.map((e) => e.keyId))];
        await revoke.ids(keyIds, { reason: 'EXPOSED', actorId: p.userId, actor, at: now });
        return { openCount: open.length, warning: null };
      }
      case 'IGNORE':
        await tx.apiKeyExposure.updateMany({ where: { id: { in: open.map((e) => e.id) } }, data: { ignoredAt: now } });
        return { openCount: open.length, warning: null };
      default:
        after.autoRevokeExposedKeys = false;
        return {
          openCount: open.length,
          warning: `${open.length} exposed key finding(s) are still open: set exposedKeysAction to REVOKE (revoke those keys now) or IGNORE (leave them live) to turn auto revoke on`,
        };
    }
  }
}
