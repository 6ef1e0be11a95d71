// Who an audit event says acted (SPEC §5): a member with the key they used (USER), an identity
// provider with its SCIM key (SCIM), a job of ours (SYSTEM) or a secret scanner's report
// (SCANNER); with the client's address and user agent where there is a request.
import type { Principal } from '../auth/principal.js';
import type { AuditActorType } from '../generated/prisma/enums.js';
import { displayHint } from '../keys/format.js';

export interface AuditActor {
  type: AuditActorType;
  /** the acting member (USER), null otherwise */
  userId: string | null;
  /** the acting key as shown (kp_…Xy9Q), never the key */
  keyHint: string | null;
  address: string | null;
  userAgent: string | null;
}

/** Where a request came from: the parts of the GraphQL context (or of an HTTP request) the actor needs. */
export interface RequestOrigin {
  clientAddress?: string | null;
  userAgent?: string | null;
}

/** The actor of a request made with a key (USER, or SCIM for a SCIM key). */
export function actorOfPrincipal(p: Principal, origin: RequestOrigin): AuditActor {
  const scim = p.keyKind === 'SCIM';
  return {
    type: scim ? 'SCIM' : 'USER',
    userId: scim ? null : p.userId,
    keyHint: displayHint(p.keyKind, p.key.hint),
    address: origin.clientAddress ?? null,
    userAgent: origin.userAgent ?? null,
  };
}

/** A member acting without a key (acceptInvitation: the invitation token is the credential). */
export function actorOfUser(userId: string, origin: RequestOrigin): AuditActor {
  return { type: 'USER', userId, keyHint: null, address: origin.clientAddress ?? null, userAgent: origin.userAgent ?? null };
}

/** Our own jobs (expiry, bootstrap). */
export const SYSTEM_ACTOR: AuditActor = Object.freeze({ type: 'SYSTEM', userId: null, keyHint: null, address: null, userAgent: null });

/** A secret scanner's report (the GitHub intake), from where it came. */
export function scannerActor(origin: RequestOrigin = {}): AuditActor {
  return { type: 'SCANNER', userId: null, keyHint: null, address: origin.clientAddress ?? null, userAgent: origin.userAgent ?? null };
}

/** The GraphQL context's parts that say who is asking (kept structural: no import of the context module). */
interface ContextLike {
  principal: Principal | null;
  clientAddress: string;
  userAgent: string | null;
}

/** The actor of a GraphQL operation: resolvers hand this to the services that record changes. */
export function auditActorOf(ctx: ContextLike): AuditActor {
  const origin = { clientAddress: ctx.clientAddress, userAgent: ctx.userAgent };
  if (!ctx.principal) throw new Error('auditActorOf needs an authenticated context (use actorOfUser)');
  return actorOfPrincipal(ctx.principal, origin);
}

/** The request's origin alone, for operations without a key (acceptInvitation). */
export function requestOriginOf(ctx: ContextLike): RequestOrigin {
  return { clientAddress: ctx.clientAddress, userAgent: ctx.userAgent };
}
