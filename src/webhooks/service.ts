// A team's webhook endpoints (SPEC §5 "Webhooks"): ENTERPRISE admins create, replace, delete them,
// rotate their signing secret and send them a test event; their deliveries are listed newest first.
// Who may call this is the fields' rule (webhooks/webhook-endpoint.ts); every row read here is
// scoped to the caller's team, so another team's endpoint is NOT_FOUND exactly as an unknown id.
//
// The signing secret (Standard Webhooks `whsec_…`) exists in clear only in the answer that creates
// or rotates it: the row holds it sealed (crypto/secret-box.ts) and bound to the endpoint's id, so
// the id is chosen here before the row is written. Every change writes its audit event (url and
// event types, never a secret) in its own transaction.
import { randomBytes, randomUUID } from 'node:crypto';
import { type AuditActor, actorOfPrincipal } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import type { Principal } from '../auth/principal.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { type ConnectionPage, type Cursor, decodeCursor, invalidCursor, keysetPage } from '../domain/cursor.js';
import { badInput, capReached, notFound } from '../domain/errors.js';
import { boundedList, displayText, pageSize, parseOrThrow } from '../domain/input.js';
import type { Prisma, PrismaClient, WebhookDelivery, WebhookEndpoint } from '../generated/prisma/client.js';
import { isSubscribableEventType, type SubscribableEventType, WEBHOOK_EVENT_TYPES } from './event-types.js';
import { insertEvents, newEventId, webhookActor, webhookBody } from './outbox.js';
import { checkWebhookUrl } from './url-policy.js';

/** A team's endpoints are few (each event is one delivery per endpoint): a cap, BAD_USER_INPUT with extensions.limit. */
export const MAX_WEBHOOK_ENDPOINTS_PER_TEAM = 20;
export const MAX_WEBHOOK_DESCRIPTION = 500;
/** After rotateWebhookSecret, deliveries are signed with both secrets this long (Standard Webhooks allows several signatures). */
export const PREVIOUS_SECRET_HOURS = 24;

export interface WebhookEndpointInput {
  url: string;
  description?: string | null;
  eventTypes: readonly string[];
  /** omitted (or null): true */
  enabled?: boolean | null;
}

/** An endpoint with the signing secret that this answer alone shows. */
export interface CreatedWebhookEndpoint {
  endpoint: WebhookEndpoint;
  secret: string;
}

/** A delivery with its event's type (WebhookDelivery.eventType). */
export type WebhookDeliveryRow = WebhookDelivery & { event: { type: string } };

export type WebhookDeliveryPage = ConnectionPage<WebhookDeliveryRow> & { totalCount: () => Promise<number> };

/** `whsec_` + base64 of 32 random bytes (the Standard Webhooks secret format). */
const newSigningSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

const descriptionSchema = displayText(MAX_WEBHOOK_DESCRIPTION).nullable();

const target = (e: Pick<WebhookEndpoint, 'teamId' | 'id'>) => ({ teamId: e.teamId, targetType: 'webhook' as const, targetId: e.id });
/**
 * An endpoint as audit summaries name it: its origin and first path segment. The rest of a path
 * or a query may carry the receiver's own token (Slack-style URLs); the admin sees it in `url`.
 */
export function label(e: Pick<WebhookEndpoint, 'url'>): string {
  return `webhook ${shownUrl(e.url)}`;
}

function shownUrl(text: string): string {
  const url = new URL(text);
  const [first, ...more] = url.pathname.split('/').filter(Boolean);
  return `${url.origin}${first ? `/${first}` : ''}${more.length || url.search ? '/…' : ''}`;
}
const typesText = (types: readonly string[]) => types.join(', ');

const cursorOfDelivery = (d: Pick<WebhookDelivery, 'createdAt' | 'id'>): Cursor => ({ v: d.createdAt.toISOString(), id: d.id });

export class WebhookEndpointService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly secretBox: SecretBox,
    private readonly policy: { allowPrivateUrls: boolean },
    /** tells the dispatcher that a delivery is waiting (it would otherwise find it at its next poll) */
    private readonly onEnqueued: () => void = () => {},
  ) {}

  /** The settings as stored: every field checked, BAD_USER_INPUT naming the first one that is not right. */
  private settings(input: WebhookEndpointInput) {
    const checked = checkWebhookUrl(input.url, this.policy);
    if (!checked.ok) throw badInput('input.url', checked.problem);
    const description = parseOrThrow('input.description', descriptionSchema, input.description ?? null);
    return {
      url: checked.url.href,
      description: description || null,
      eventTypes: eventTypesOf(input.eventTypes),
      enabled: input.enabled ?? true,
    };
  }

  /** The team's endpoints, oldest first (at most MAX_WEBHOOK_ENDPOINTS_PER_TEAM). */
  list(p: Principal): Promise<WebhookEndpoint[]> {
    return this.prisma.webhookEndpoint.findMany({ where: { teamId: p.teamId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  }

  private async find(db: Prisma.TransactionClient, p: Principal, id: string): Promise<WebhookEndpoint> {
    const endpoint = await db.webhookEndpoint.findFirst({ where: { id, teamId: p.teamId } });
    if (!endpoint) throw notFound('Webhook endpoint', id);
    return endpoint;
  }

  /** The endpoint, locked until the transaction ends (a change and the dispatcher's disabling do not interleave). */
  private async lock(tx: Prisma.TransactionClient, p: Principal, id: string): Promise<WebhookEndpoint> {
    await tx.$queryRawUnsafe('SELECT 1 FROM "WebhookEndpoint" WHERE "id" = $1 AND "teamId" = $2 FOR UPDATE', id, p.teamId);
    return this.find(tx, p, id);
  }

  /** Counted under the team row's lock: concurrent creates cannot pass the cap together. */
  async create(p: Principal, input: WebhookEndpointInput, actor: AuditActor = actorOfPrincipal(p, {})): Promise<CreatedWebhookEndpoint> {
    const settings = this.settings(input);
    const id = randomUUID();
    const secret = newSigningSecret();
    const endpoint = await this.prisma.$transaction(async (tx) => {
      await tx.$queryRawUnsafe('SELECT 1 FROM "Team" WHERE "id" = $1 FOR UPDATE', p.teamId);
      const count = await tx.webhookEndpoint.count({ where: { teamId: p.teamId } });
      if (count >= MAX_WEBHOOK_ENDPOINTS_PER_TEAM) {
        throw capReached(
          'input',
          `a team holds at most ${MAX_WEBHOOK_ENDPOINTS_PER_TEAM} webhook endpoints: delete one first`,
          'maxWebhookEndpointsPerTeam',
        );
      }
      const created = await tx.webhookEndpoint.create({
        data: { id, teamId: p.teamId, createdById: p.userId, ...settings, secretSealed: this.secretBox.seal(secret, id) },
      });
      const off = created.enabled ? '' : ' (disabled)';
      await recordAudit(tx, actor, [
        { ...target(created), action: 'webhook.created', summary: `Created ${label(created)} for ${typesText(created.eventTypes)}${off}` },
      ]);
      return created;
    });
    return { endpoint, secret };
  }

  /**
   * Replaces every setting with the input's (a description left out is removed; `enabled` left out
   * is true). Enabling a disabled endpoint forgets why and since when it was failing: its failures
   * count again from the next one.
   */
  async update(
    p: Principal,
    id: string,
    input: WebhookEndpointInput,
    actor: AuditActor = actorOfPrincipal(p, {}),
  ): Promise<WebhookEndpoint> {
    await this.find(this.prisma, p, id); // SPEC §4's order: an unknown endpoint before a bad input
    const settings = this.settings(input);
    return this.prisma.$transaction(async (tx) => {
      const before = await this.lock(tx, p, id);
      const reenabled = settings.enabled && !before.enabled;
      const endpoint = await tx.webhookEndpoint.update({
        where: { id: before.id },
        data: { ...settings, ...(reenabled ? { disabledReason: null, failingSince: null } : {}) },
      });
      await recordAudit(tx, actor, [{ ...target(endpoint), action: 'webhook.updated', summary: updateSummary(before, endpoint) }]);
      return endpoint;
    });
  }

  /** Gone at once with its deliveries (cascade); the answer is the endpoint as it was. */
  async delete(p: Principal, id: string, actor: AuditActor = actorOfPrincipal(p, {})): Promise<WebhookEndpoint> {
    return this.prisma.$transaction(async (tx) => {
      const endpoint = await this.lock(tx, p, id);
      await tx.webhookEndpoint.delete({ where: { id: endpoint.id } });
      await recordAudit(tx, actor, [
        { ...target(endpoint), action: 'webhook.deleted', summary: `Deleted ${label(endpoint)} (${typesText(endpoint.eventTypes)})` },
      ]);
      return endpoint;
    });
  }

  /**
   * A new signing secret. The current one becomes the previous one and keeps signing (next to the
   * new one) for PREVIOUS_SECRET_HOURS, so that a receiver can switch without rejecting a delivery;
   * rotating again within that time ends the older one.
   */
  async rotateSecret(p: Principal, id: string, actor: AuditActor = actorOfPrincipal(p, {})): Promise<CreatedWebhookEndpoint> {
    const secret = newSigningSecret();
    const endpoint = await this.prisma.$transaction(async (tx) => {
      const before = await this.lock(tx, p, id);
      const previousUntil = new Date(Date.now() + PREVIOUS_SECRET_HOURS * 3_600_000);
      const rotated = await tx.webhookEndpoint.update({
        where: { id: before.id },
        data: {
          secretSealed: this.secretBox.seal(secret, before.id),
          previousSecretSealed: before.secretSealed,
          previousSecretExpiresAt: previousUntil,
        },
      });
      await recordAudit(tx, actor, [
        {
          ...target(rotated),
          action: 'webhook.secret_rotated',
          summary: `Rotated the signing secret of ${label(rotated)}; the previous secret also signs until ${previousUntil.toISOString()}`,
        },
      ]);
      return rotated;
    });
    return { endpoint, secret };
  }

  /**
   * A `webhook.test` event for this endpoint only, disabled or not (checking an endpoint before
   * enabling it is what a test is for). Answers with its PENDING delivery; the dispatcher posts it.
   */
  async sendTest(p: Principal, id: string, actor: AuditActor = actorOfPrincipal(p, {})): Promise<WebhookDeliveryRow> {
    const delivery = await this.prisma.$transaction(async (tx) => {
      const endpoint = await this.find(tx, p, id);
      const at = new Date();
      const eventId = newEventId();
      const data = {
        endpoint: { id: endpoint.id, url: endpoint.url },
        message: 'A test event from Keyplane: this endpoint receives and verifies deliveries.',
        actor: await webhookActor(tx, actor),
      };
      await insertEvents(
        tx,
        [{ id: eventId, teamId: p.teamId, type: 'webhook.test', body: webhookBody('webhook.test', at, data) }],
        at,
        endpoint.id,
      );
      return tx.webhookDelivery.findFirstOrThrow({
        where: { eventId, endpointId: endpoint.id },
        include: { event: { select: { type: true } } },
      });
    });
    this.onEnqueued();
    return delivery;
  }

  /** An endpoint's deliveries, newest first; `after` is a cursor of this connection. */
  async deliveries(p: Principal, endpointId: string, args: { first?: number | null; after?: string | null }): Promise<WebhookDeliveryPage> {
    const endpoint = await this.find(this.prisma, p, endpointId);
    const first = pageSize(args.first);
    const cursor = args.after ? decodeCursor(args.after) : null;
    if (cursor && cursor.v === null) throw invalidCursor();
    const scope: Prisma.WebhookDeliveryWhereInput = { endpointId: endpoint.id };
    const after: Prisma.WebhookDeliveryWhereInput | null = cursor?.v
      ? { OR: [{ createdAt: { lt: new Date(cursor.v) } }, { createdAt: new Date(cursor.v), id: { lt: cursor.id } }] }
      : null;
    const rows = await this.prisma.webhookDelivery.findMany({
      where: after ? { AND: [scope, after] } : scope,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: first + 1,
      include: { event: { select: { type: true } } },
    });
    return { ...keysetPage(rows, first, cursor, cursorOfDelivery), totalCount: () => this.prisma.webhookDelivery.count({ where: scope }) };
  }
}

/** At least one known type, each once (in the order given); `webhook.test` is sent, never subscribed to. */
function eventTypesOf(types: readonly string[]): SubscribableEventType[] {
  const field = 'input.eventTypes';
  boundedList(field, types, WEBHOOK_EVENT_TYPES.length, 'maxEventTypes');
  if (types.length === 0) throw badInput(field, `must name at least one of ${typesText(WEBHOOK_EVENT_TYPES)}`);
  for (const type of types) {
    if (isSubscribableEventType(type)) continue;
    const name = JSON.stringify(type.slice(0, 100));
    if (type === 'webhook.test') throw badInput(field, `${name} is only sent by sendTestWebhook: it cannot be subscribed to`);
    throw badInput(field, `unknown event type ${name} (known: ${typesText(WEBHOOK_EVENT_TYPES)})`);
  }
  return [...new Set(types as SubscribableEventType[])];
}

function updateSummary(before: WebhookEndpoint, after: WebhookEndpoint): string {
  const changes = [
    before.url !== after.url ? `url ${shownUrl(before.url)} → ${shownUrl(after.url)}` : null,
    typesText(before.eventTypes) !== typesText(after.eventTypes)
      ? `event types ${typesText(before.eventTypes)} → ${typesText(after.eventTypes)}`
      : null,
    before.description !== after.description ? 'description' : null,
    before.enabled !== after.enabled ? (after.enabled ? 'enabled' : 'disabled') : null,
  ].filter(Boolean);
  return `Updated ${label(after)} (${typesText(after.eventTypes)}): ${changes.join(', ') || 'no change'}`;
}
