// The webhook types and root fields (SPEC §5): ENTERPRISE admins manage the team's endpoints and
// read their deliveries. No field of any type here holds a signing secret but
// CreatedWebhookEndpoint.secret, the answer of the call that made it.
import { auditActorOf } from '../audit/actor.js';
import { rules } from '../auth/policy.js';
import { MAX_PAGE } from '../domain/input.js';
import type { WebhookEndpoint } from '../generated/prisma/client.js';
import { builder } from '../graphql/builder.js';
import { connectionArgs } from '../graphql/connection.js';
import { WEBHOOK_EVENT_TYPES } from './event-types.js';
import { type CreatedWebhookEndpoint, MAX_WEBHOOK_ENDPOINTS_PER_TEAM, PREVIOUS_SECRET_HOURS, type WebhookDeliveryRow } from './service.js';

const WebhookEndpointRef = builder.objectRef<WebhookEndpoint>('WebhookEndpoint').implement({
  description: "Where the team's key events are posted, signed per Standard Webhooks.",
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    description: t.exposeString('description', { nullable: true }),
    eventTypes: t.exposeStringList('eventTypes', { description: `some of ${WEBHOOK_EVENT_TYPES.join(', ')}` }),
    enabled: t.exposeBoolean('enabled'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    disabledReason: t.exposeString('disabledReason', {
      nullable: true,
      description: 'Why Keyplane disabled it (its deliveries kept failing); null once it is enabled again.',
    }),
  }),
});

const CreatedWebhookEndpointRef = builder.objectRef<CreatedWebhookEndpoint>('CreatedWebhookEndpoint').implement({
  description: 'An endpoint and its signing secret (whsec_…), shown in this response only: keep it to verify the signatures.',
  fields: (t) => ({
    endpoint: t.field({ type: WebhookEndpointRef, resolve: (c) => c.endpoint }),
    secret: t.exposeString('secret'),
  }),
});

const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  values: {
    PENDING: { description: 'waiting for its next attempt' },
    SUCCEEDED: { description: 'the endpoint answered 2xx' },
    FAILED: { description: 'every attempt failed: no more will be made' },
  },
});

const WebhookDeliveryRef = builder.objectRef<WebhookDeliveryRow>('WebhookDelivery').implement({
  description: "One event's delivery to one endpoint, over all its attempts.",
  fields: (t) => ({
    id: t.exposeID('id'),
    eventId: t.exposeString('eventId', { description: 'the webhook-id header: the same on every attempt' }),
    eventType: t.string({ resolve: (d) => d.event.type }),
    status: t.field({ type: WebhookDeliveryStatusEnum, resolve: (d) => d.status }),
    attempts: t.exposeInt('attempts'),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt is due; null once the delivery SUCCEEDED or FAILED.',
      resolve: (d) => (d.status === 'PENDING' ? d.nextAttemptAt : null),
    }),
    responseStatus: t.exposeInt('responseStatus', { nullable: true, description: "the last attempt's HTTP status" }),
    lastError: t.exposeString('lastError', { nullable: true }),
  }),
});

const WebhookDeliveryConnectionRef = builder.connectionObject<typeof WebhookDeliveryRef, { totalCount: () => Promise<number> }>({
  type: WebhookDeliveryRef,
  name: 'WebhookDeliveryConnection',
  fields: (t) => ({ totalCount: t.int({ description: "the endpoint's deliveries", resolve: (c) => c.totalCount() }) }),
});

const WebhookEndpointInputRef = builder.inputType('WebhookEndpointInput', {
  fields: (t) => ({
    url: t.string({ required: true, description: 'https (http and private addresses only with WEBHOOK_ALLOW_PRIVATE_URLS)' }),
    description: t.string(),
    eventTypes: t.stringList({ required: true, description: `at least one of ${WEBHOOK_EVENT_TYPES.join(', ')}` }),
    enabled: t.boolean({ description: 'default true' }),
  }),
});

builder.queryFields((t) => ({
  webhookEndpoints: t.withAuth(rules.enterpriseAdmin).field({
    type: [WebhookEndpointRef],
    description: `The team's webhook endpoints (admins, ENTERPRISE), oldest first; at most ${MAX_WEBHOOK_ENDPOINTS_PER_TEAM}.`,
    extensions: { listSize: MAX_WEBHOOK_ENDPOINTS_PER_TEAM },
    resolve: (_root, _args, ctx) => ctx.services.webhookEndpoints.list(ctx.principal),
  }),
  webhookDeliveries: t.withAuth(rules.enterpriseAdmin).field({
    type: WebhookDeliveryConnectionRef,
    description: `An endpoint's deliveries, newest first (admins, ENTERPRISE); first at most ${MAX_PAGE}.`,
    args: { endpointId: t.arg.id({ required: true }), ...connectionArgs(t) },
    resolve: (_root, { endpointId, ...page }, ctx) => ctx.services.webhookEndpoints.deliveries(ctx.principal, endpointId, page),
  }),
}));

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.withAuth(rules.enterpriseAdmin).field({
    type: CreatedWebhookEndpointRef,
    description: 'Admins, ENTERPRISE. A new endpoint; its signing secret is shown once.',
    args: { input: t.arg({ type: WebhookEndpointInputRef, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.webhookEndpoints.create(ctx.principal, input, auditActorOf(ctx)),
  }),
  updateWebhookEndpoint: t.withAuth(rules.enterpriseAdmin).field({
    type: WebhookEndpointRef,
    description: 'Replaces every setting with the input (enabled omitted = true). Enabling a disabled endpoint clears disabledReason.',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: WebhookEndpointInputRef, required: true }) },
    resolve: (_root, { id, input }, ctx) => ctx.services.webhookEndpoints.update(ctx.principal, id, input, auditActorOf(ctx)),
  }),
  deleteWebhookEndpoint: t.withAuth(rules.enterpriseAdmin).field({
    type: WebhookEndpointRef,
    description: 'Deletes the endpoint and its deliveries; answers with the endpoint as it was.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.webhookEndpoints.delete(ctx.principal, id, auditActorOf(ctx)),
  }),
  rotateWebhookSecret: t.withAuth(rules.enterpriseAdmin).field({
    type: CreatedWebhookEndpointRef,
    description: `A new signing secret, shown once; for ${PREVIOUS_SECRET_HOURS} hours deliveries carry a signature with the previous one too.`,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.webhookEndpoints.rotateSecret(ctx.principal, id, auditActorOf(ctx)),
  }),
  sendTestWebhook: t.withAuth(rules.enterpriseAdmin).field({
    type: WebhookDeliveryRef,
    description: 'Sends a webhook.test event to this endpoint (also when disabled); answers with its PENDING delivery.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.webhookEndpoints.sendTest(ctx.principal, id, auditActorOf(ctx)),
  }),
}));
