// Exposures: keys found where they should not be. A report looks the found keys up by hash,
// records one exposure per key and location (again: nothing new), and, for teams with
// autoRevokeExposedKeys on, revokes the live ones at once (reason EXPOSED) through the one
// revocation path, so that their owners are notified and the findings resolved.
import { type AuditActor, actorOfPrincipal, scannerActor } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import type { Principal } from '../auth/principal.js';
import { capReached } from '../domain/errors.js';
import { neutralized, parseOrThrow, text } from '../domain/input.js';
import { type ListArgs, listPage } from '../domain/list-page.js';
import type { ApiKey, ApiKeyExposure, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { displayHint, hashKey, parseKey } from '../keys/format.js';
import type { RevocationService } from '../revocation/service.js';
import { findKeys } from './find.js';

/** reportExposedApiKeys' text, as UTF-8 (the GitHub intake takes bodies of 1 MB too) */
export const MAX_REPORT_BYTES = 1_000_000;
const locationSchema = text(2_000, { trim: true, required: true });
/**
 * A location as stored: controls and bidi formatting shown as U+FFFD (it is shown in lists and
 * audit summaries), at most MAX_LOCATION_BYTES of UTF-8 (the unique (keyId, location) index holds
 * ~2,700 bytes a row; a scanner's long URL must not sink its report and leave a leaked key live),
 * cut on a character boundary.
 */
const MAX_LOCATION_BYTES = 2_000;
export function storableLocation(reported: string): string {
  const location = neutralized(reported);
  if (location.length * 3 <= MAX_LOCATION_BYTES || Buffer.byteLength(location) <= MAX_LOCATION_BYTES) return location;
  const cut = Buffer.from(location)
    .subarray(0, MAX_LOCATION_BYTES - 3)
    .toString('utf8');
  return `${cut.replace(/\uFFFD+$/, '')}…`;
}

/** exposures a report answers with (newest first) */
export const MAX_LISTED = 1_000;

export interface ReportedToken {
  token: string;
  location: string;
  source: string;
}

export interface TokenVerdict {
  token: string;
  /** the key, when the token is one of ours */
  key: ApiKey | null;
  /** it was live (would have authenticated) when reported */
  live: boolean;
}

type ExposureQuery = { include?: Prisma.ApiKeyExposureInclude; select?: Prisma.ApiKeyExposureSelect };

export class ScannerService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly revocation: RevocationService,
    private readonly pepper?: string,
  ) {}

  /** `reportExposedApiKeys`: keys of the admin's own team in `text` (others are not looked at). */
  async reportText(
    p: Principal,
    text: string,
    location: string,
    query: ExposureQuery = {},
    actor: AuditActor = actorOfPrincipal(p, {}),
  ): Promise<ApiKeyExposure[]> {
    // text.length ≤ bytes: the cheap test first, then the exact one.
    if (text.length > MAX_REPORT_BYTES || Buffer.byteLength(text) > MAX_REPORT_BYTES) {
      throw capReached('text', `at most ${MAX_REPORT_BYTES} bytes per report`, 'maxReportBytes');
    }
    const where = parseOrThrow('location', locationSchema, location);
    const tokens = [...new Set(findKeys(text).map((f) => f.key))].map((token) => ({ token, location: where, source: 'api' }));
    const { exposureIds } = await this.report(tokens, p.teamId, actor);
    return this.prisma.apiKeyExposure.findMany({
      ...query,
      where: { id: { in: exposureIds } },
      orderBy: [{ detectedAt: 'desc' }, { id: 'desc' }],
      take: MAX_LISTED,
    });
  }

  /**
   * Records the exposures of these tokens (any team's keys, or only `teamId`'s) and applies auto
   * revoke. Tokens with a bad checksum cost nothing; the rest cost one indexed read in all. Each
   * new exposure is audited (exposure.reported), as are the revocations, by `actor`.
   */
  async report(
    tokens: ReportedToken[],
    teamId?: string,
    actor: AuditActor = scannerActor(),
  ): Promise<{ verdicts: TokenVerdict[]; exposureIds: string[] }> {
    const hashes = new Map<string, string>();
    for (const { token } of tokens) if (parseKey(token).ok) hashes.set(token, hashKey(token, this.pepper));
    const now = new Date();
    const sought = [...hashes.values()];
    // A regenerated key's previous secret still works during its overlap (keys/rotation.ts): found
    // exposed, it exposes its key like the current secret does.
    const keys = hashes.size
      ? await this.prisma.apiKey.findMany({
          where: {
            OR: [{ hash: { in: sought } }, { previousHash: { in: sought }, previousSecretExpiresAt: { gt: now } }],
            ...(teamId ? { teamId } : {}),
          },
        })
      : [];
    const byHash = new Map(keys.map((k) => [k.hash, k]));
    for (const k of keys) if (k.previousHash && k.previousSecretExpiresAt && k.previousSecretExpiresAt > now) byHash.set(k.previousHash, k);
    const ofToken = tokens.map(({ token }) => byHash.get(hashes.get(token) ?? '') ?? null);
    const found = tokens.flatMap((t, i) => (ofToken[i] ? [{ ...t, location: storableLocation(t.location), key: ofToken[i]! }] : []));
    if (found.length === 0) return { verdicts: tokens.map(({ token }) => ({ token, key: null, live: false })), exposureIds: [] };
    const keyIds = [...new Set(found.map((f) => f.key.id))];
    const { exposureIds, live } = await this.revocation.transaction(async (tx, revoke) => {
      // Decide on the rows as they are now, and hold them: a revocation or a settings change
      // running at the same time waits for this report (and then sees its exposures).
      const current = await tx.$queryRawUnsafe<{ id: string; status: string; expiresAt: Date | null; autoRevoke: boolean }[]>(
        `SELECT k."id", k."status", k."expiresAt", t."autoRevokeExposedKeys" AS "autoRevoke"
           FROM "ApiKey" k JOIN "Team" t ON t."id" = k."teamId"
          WHERE k."id" = ANY($1::text[]) FOR SHARE OF k, t`,
        keyIds,
      );
      const live = new Map(current.map((k) => [k.id, k.status !== 'REVOKED' && !(k.expiresAt && k.expiresAt <= now)]));
      const recorded = await tx.apiKeyExposure.createManyAndReturn({
        select: { keyId: true, location: true, source: true },
        data: found.map((f) => ({
          keyId: f.key.id,
          teamId: f.key.teamId,
          location: f.location,
          source: f.source,
          // A key that no longer works is found already resolved.
          resolvedAt: live.get(f.key.id) ? null : now,
        })),
        skipDuplicates: true,
      });
      // New findings only: a location reported again changes nothing.
      const keyById = new Map(found.map((f) => [f.key.id, f.key]));
      await recordAudit(
        tx,
        actor,
        recorded.map((e) => {
          const key = keyById.get(e.keyId)!;
          return {
            teamId: key.teamId,
            action: 'exposure.reported',
            targetType: key.kind === 'PERSONAL' ? 'api_key' : key.kind === 'SCIM' ? 'scim_key' : 'access_key',
            targetId: key.id,
            summary: `${key.name} (${displayHint(key.kind, key.hint)}) found by ${e.source} at ${e.location}`,
          };
        }),
        now,
      );
      const rows = await tx.apiKeyExposure.findMany({
        where: { OR: found.map((f) => ({ keyId: f.key.id, location: f.location })) },
        select: { id: true, keyId: true, ignoredAt: true, resolvedAt: true },
      });
      // Auto revoke acts on open findings: one an admin chose to ignore stays ignored when reported again.
      const autoRevoke = new Set(current.filter((k) => k.autoRevoke).map((k) => k.id));
      const toRevoke = [...new Set(rows.filter((r) => autoRevoke.has(r.keyId) && !r.ignoredAt && !r.resolvedAt).map((r) => r.keyId))];
      if (toRevoke.length) await revoke.ids(toRevoke, { reason: 'EXPOSED', actorId: null, actor, at: now });
      return { exposureIds: rows.map((r) => r.id), live };
    });
    // Live as the locked rows were when reported (before any auto revoke of this report).
    const verdicts = tokens.map(({ token }, i) => {
      const key = ofToken[i] ?? null;
      return { token, key, live: key !== null && (live.get(key.id) ?? false) };
    });
    return { verdicts, exposureIds };
  }

  /** Newest first, `first` at a time; `after` is the last id of the previous page. */
  async list(p: Principal, includeResolved: boolean, args: ListArgs = {}, query: ExposureQuery = {}) {
    const scope: Prisma.ApiKeyExposureWhereInput = { teamId: p.teamId, ...(includeResolved ? {} : { resolvedAt: null }) };
    const page = await listPage(
      args,
      // The after row is looked up in the team, resolved or not: one resolved meanwhile still pages.
      async (id) =>
        (await this.prisma.apiKeyExposure.findFirst({ where: { teamId: p.teamId, id }, select: { detectedAt: true } }))?.detectedAt ?? null,
      'detectedAt',
      'desc',
    );
    return this.prisma.apiKeyExposure.findMany({
      ...query,
      where: page.after ? { AND: [scope, page.after as Prisma.ApiKeyExposureWhereInput] } : scope,
      orderBy: [{ detectedAt: 'desc' }, { id: 'desc' }],
      take: page.take,
    });
  }

  /** Open exposures of a team: unresolved, not ignored (their keys are still live). */
  openExposures(db: Prisma.TransactionClient, teamId: string) {
    return db.apiKeyExposure.findMany({ where: { teamId, resolvedAt: null, ignoredAt: null }, select: { id: true, keyId: true } });
  }
}
