// Team membership by invitation: an admin invites, the invitee accepts with the one-time token
// (no key needed) and receives their first personal key. An existing member without an active key
// (provisioned by SCIM, or reactivated: SPEC §5) is invited the same way: the invitation is bound
// to that member and accepting it gives them a first key, their id and role unchanged (the role
// argument is ignored for them: a role is changed by an admin or the identity provider, not by
// an invitation). The token is only ever returned to the admin, never emailed or stored in clear.
import { createHash, randomBytes } from 'node:crypto';
import { type AuditActor, actorOfPrincipal, actorOfUser, type RequestOrigin } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import type { Principal } from '../auth/principal.js';
import { badInput, DomainError, forbidden, tooManyRequests, unauthenticated } from '../domain/errors.js';
import { parseOrThrow, validName } from '../domain/input.js';
import type { Prisma, PrismaClient, User } from '../generated/prisma/client.js';
import type { TeamRole } from '../generated/prisma/enums.js';
import type { KeyService } from '../keys/service.js';
import { type AuthFailureLimiter, tooManyFailuresMessage } from '../ratelimit/address-limiter.js';
import { emailSchema } from './email.js';

const INVITATION_TTL_MS = 7 * 86_400_000;
/** The same rule when inviting and when accepting (a member may have joined meanwhile). */
const ALREADY_MEMBER = 'is already a member of this team';

export const hashInvitationToken = (token: string) => createHash('sha256').update(token).digest('hex');

export class InvitationService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly keys: KeyService,
    /** the brute-force limit an invitation token counts against, like a key (absent: not counted) */
    private readonly guard?: { failures: AuthFailureLimiter; onTokenRefused: () => void },
  ) {}

  async invite(p: Principal, input: { email: string; name: string; role: TeamRole }, actor: AuditActor = actorOfPrincipal(p, {})) {
    if (input.role === 'SUPER_ADMIN' && p.role !== 'SUPER_ADMIN') {
      throw forbidden('Only a SUPER_ADMIN may invite a SUPER_ADMIN');
    }
    const email = parseOrThrow('email', emailSchema, input.email.trim()).toLowerCase();
    const name = validName('name', input.name);

    const token = `kpinv_${randomBytes(32).toString('base64url')}`;
    const invitation = await this.prisma.$transaction(async (tx) => {
      const member = await tx.user.findUnique({ where: { teamId_email: { teamId: p.teamId, email } } });
      if (member) await refuseUnlessKeyless(tx, p, member);
      const created = await tx.invitation.create({
        data: {
          teamId: p.teamId,
          email,
          // An existing member keeps their name and role: the invitation shows them as they are.
          name: member ? member.name : name,
          role: member ? member.role : input.role,
          userId: member?.id ?? null,
          tokenHash: hashInvitationToken(token),
          invitedById: p.userId,
          expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
        },
      });
      // The token is the invitee's credential: the event names the invitation, never the token.
      await recordAudit(tx, actor, [
        {
          teamId: p.teamId,
          action: 'member.invited',
          targetType: 'invitation',
          targetId: created.id,
          summary: member
            ? `Invited member ${email} (${member.role}, no active key) to get a first key, until ${created.expiresAt.toISOString()}`
            : `Invited ${email} (${JSON.stringify(name)}) as ${input.role}, until ${created.expiresAt.toISOString()}`,
        },
      ]);
      return created;
    });
    return { ...invitation, token };
  }

  /**
   * acceptInvitation from a client address. The token is a credential: a failure is counted
   * before the database is read (so a burst of guesses — batched, aliased — costs at most
   * AUTH_FAILURES_PER_MINUTE reads), and given back when the token turns out good or the refusal
   * is not about the token.
   */
  async acceptFrom(clientAddress: string, token: string, keyName: string, userAgent: string | null = null) {
    const origin = { clientAddress, userAgent };
    if (!this.guard) return this.accept(token, keyName, origin);
    const { failures, onTokenRefused } = this.guard;
    const blockedFor = await failures.reserve(clientAddress);
    if (blockedFor > 0) throw tooManyRequests('RATE_LIMITED', tooManyFailuresMessage(blockedFor), blockedFor);
    try {
      const generated = await this.accept(token, keyName, origin);
      await failures.refund(clientAddress);
      return generated;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'UNAUTHENTICATED') onTokenRefused();
      else await failures.refund(clientAddress);
      throw error;
    }
  }

  /**
   * Consumes the token and creates the member with their first key — or, for an invitation bound
   * to an existing member, gives that member their first key — all or nothing (the member is the actor).
   */
  async accept(token: string, keyName: string, origin: RequestOrigin = {}) {
    const now = new Date();
    return this.prisma.$transaction(async (tx) => {
      const invitation = await tx.invitation.findUnique({ where: { tokenHash: hashInvitationToken(token) } });
      if (!invitation) throw unauthenticated('Unknown invitation token');
      if (invitation.acceptedAt) throw unauthenticated('This invitation was already used');
      if (invitation.expiresAt <= now) {
        throw unauthenticated(`This invitation expired at ${invitation.expiresAt.toISOString()}`);
      }
      const name = validName('keyName', keyName);
      // Conditional on still being unused: of two concurrent accepts, exactly one wins.
      const claimed = await tx.invitation.updateMany({
        where: { id: invitation.id, acceptedAt: null },
        data: { acceptedAt: now },
      });
      if (claimed.count !== 1) throw unauthenticated('This invitation was already used');
      let user: User;
      if (invitation.userId) {
        user = await invitedMember(tx, invitation.userId, invitation.email, now);
      } else {
        const existing = await tx.user.findUnique({
          where: { teamId_email: { teamId: invitation.teamId, email: invitation.email } },
        });
        if (existing) throw badInput('token', `its email ${ALREADY_MEMBER}`);
        user = await tx.user.create({
          data: { teamId: invitation.teamId, email: invitation.email, name: invitation.name, role: invitation.role },
        });
      }
      const actor = actorOfUser(user.id, origin);
      await recordAudit(tx, actor, [
        {
          teamId: user.teamId,
          action: 'member.joined',
          targetType: 'user',
          targetId: user.id,
          summary: invitation.userId
            ? `${user.email} (${user.role}) got a first key (invitation ${invitation.id})`
            : `${user.email} joined as ${user.role} (invitation ${invitation.id})`,
        },
      ]);
      return this.keys.issuePersonalKey({ userId: user.id, teamId: user.teamId }, { name }, tx, actor);
    });
  }
}

/** A personal key the member can authenticate with: enabled and not expired. */
const activePersonalKeyOf = (userId: string, now: Date): Prisma.ApiKeyWhereInput => ({
  createdById: userId,
  kind: 'PERSONAL',
  status: 'ENABLED',
  OR: [{ expiresAt: null }, { expiresAt: { gt: now } }],
});

/**
 * An existing member may be invited only to get a first key: live, active, without an active
 * personal key. A TEAM_ADMIN may not obtain a key for a SUPER_ADMIN (the token comes back to them).
 */
async function refuseUnlessKeyless(tx: Prisma.TransactionClient, p: Principal, member: User): Promise<void> {
  if (member.deletedAt)
    throw badInput('email', 'belongs to a deleted member: the identity provider must provision them again (SCIM) first');
  if (!member.active) throw badInput('email', 'belongs to a deactivated member: the identity provider must reactivate them (SCIM) first');
  if (await tx.apiKey.findFirst({ where: activePersonalKeyOf(member.id, new Date()), select: { id: true } })) {
    throw badInput('email', ALREADY_MEMBER);
  }
  if (member.role === 'SUPER_ADMIN' && p.role !== 'SUPER_ADMIN') throw forbidden('Only a SUPER_ADMIN may invite a SUPER_ADMIN');
}

/**
 * The member an invitation is bound to, locked for the transaction (two invitations accepted at
 * once give one key): still live, active, at the invited address, and still without an active key.
 */
async function invitedMember(tx: Prisma.TransactionClient, userId: string, email: string, now: Date): Promise<User> {
  await tx.$queryRaw`SELECT "id" FROM "User" WHERE "id" = ${userId} FOR UPDATE`;
  const member = await tx.user.findUniqueOrThrow({ where: { id: userId } });
  // Deprovisioning ends the member's invitations; these guard against one that raced it.
  if (member.deletedAt || !member.active) throw unauthenticated('This invitation ended: the member was deprovisioned');
  if (member.email !== email) throw unauthenticated("This invitation ended: the member's email changed");
  if (await tx.apiKey.findFirst({ where: activePersonalKeyOf(member.id, now), select: { id: true } })) {
    throw badInput('token', `its member already has an active key: ${ALREADY_MEMBER}`);
  }
  return member;
}
