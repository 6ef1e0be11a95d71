// What a resolver sees of a request. Built by the plugins that own each part (auth/http-plugin.ts:
// principal and address; ratelimit/plugin.ts: usage) and by server.ts (the services). It names the
// service classes' types, never the composition root (services.ts), so the schema modules do not
// type-depend on everything the server wires.
import type { AuditQuery } from '../audit/query.js';
import type { Principal } from '../auth/principal.js';
import type { CollectionService } from '../collections/service.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { KeyChanges } from '../keys/events.js';
import type { KeyGeneration } from '../keys/generation.js';
import type { KeyLifecycle } from '../keys/lifecycle.js';
import type { KeyService } from '../keys/service.js';
import type { TeamKeyAdmin } from '../keys/team-key-admin.js';
import type { TeamKeyQuery } from '../keys/team-key-query.js';
import type { NotificationService } from '../notifications/service.js';
import type { RateState } from '../ratelimit/key-limiter.js';
import type { QuotaState } from '../ratelimit/quota.js';
import type { KeyplanePubSub } from '../realtime/pubsub.js';
import type { SocketRegistry } from '../realtime/socket-registry.js';
import type { ScannerService } from '../scanner/service.js';
import type { ScimKeyService } from '../scim/keys.js';
import type { InvitationService } from '../teams/invitations.js';
import type { MemberService } from '../teams/members.js';
import type { SettingsService } from '../teams/settings-service.js';
import type { WebhookEndpointService } from '../webhooks/service.js';

/** The domain services a resolver may call: one call each (server.ts picks them from services.ts). */
export interface RequestServices {
  /** plugin-prisma's client, and the load-by-id of subscription events */
  prisma: PrismaClient;
  keys: KeyService;
  keyGeneration: KeyGeneration;
  lifecycle: KeyLifecycle;
  teamKeys: TeamKeyQuery;
  teamKeyAdmin: TeamKeyAdmin;
  collections: CollectionService;
  invitations: InvitationService;
  members: MemberService;
  settings: SettingsService;
  notifications: NotificationService;
  scanner: ScannerService;
  audit: AuditQuery;
  scimKeys: ScimKeyService;
  webhookEndpoints: WebhookEndpointService;
  /** the event streams that subscriptions read: key changes (apiKeyRevoked) from the bus, the rest from pub/sub */
  keyChanges: Pick<KeyChanges, 'stream'>;
  pubsub: KeyplanePubSub;
  /** a subscription that must deliver before its socket closes holds the close (apiKeyRevoked) */
  sockets: Pick<SocketRegistry, 'holdClose' | 'trackStream'>;
}

/** This operation's rate-limit window and the team's monthly quota, once admitted. */
export interface Usage {
  rate: RateState;
  quota: QuotaState;
}

export interface Context {
  /** null only for operations that need no key (acceptInvitation, introspection). */
  principal: Principal | null;
  /** the client's address, for the brute-force limit */
  clientAddress: string;
  /** the client's User-Agent (over graphql-ws: the upgrade request's), for the audit trail */
  userAgent: string | null;
  /** the HTTP request (absent over graphql-ws) */
  request?: Request;
  /** set by the request limits (ratelimit/plugin.ts) for every operation with a key, before any resolver */
  usage?: Usage;
  services: RequestServices;
}

/** The context of every field that sits behind a key: admitted by the request limits, hence its usage. */
export interface AuthenticatedContext extends Context {
  principal: Principal;
  usage: Usage;
}
