// The Notification type and its root fields: the viewer's notifications, marking them read, and
// the notificationAdded subscription.

import { queryFromInfo } from '@pothos/plugin-prisma';
import { rules } from '../auth/policy.js';
import { CollectionAccessKeyRef } from '../collections/access-key.js';
import { builder } from '../graphql/builder.js';
import { connectionArgs } from '../graphql/connection.js';
import { ApiKeyRef } from '../keys/api-key.js';
import type { NotificationAddedPayload } from '../realtime/pubsub.js';
import { ScimApiKeyRef } from '../scim/scim-api-key.js';

export const NotificationRef = builder.prismaObject('Notification', {
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.exposeString('kind', { description: 'e.g. API_KEY_REVOKED' }),
    message: t.exposeString('message'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    readAt: t.expose('readAt', { type: 'DateTime', nullable: true }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'The personal key it is about.',
      select: (_args, _ctx, nestedSelection) => ({ key: nestedSelection(true) }),
      resolve: (n) => (n.key?.kind === 'PERSONAL' ? n.key : null),
    }),
    accessKey: t.field({
      type: CollectionAccessKeyRef,
      nullable: true,
      description: 'The collection access key it is about.',
      select: (_args, _ctx, nestedSelection) => ({ key: nestedSelection(true) }),
      resolve: (n) => (n.key?.kind === 'COLLECTION_ACCESS' ? n.key : null),
    }),
    scimApiKey: t.field({
      type: ScimApiKeyRef,
      nullable: true,
      description: 'The SCIM API key it is about.',
      select: (_args, _ctx, nestedSelection) => ({ key: nestedSelection(true) }),
      resolve: (n) => (n.key?.kind === 'SCIM' ? n.key : null),
    }),
  }),
});

const NotificationConnectionRef = builder.connectionObject<typeof NotificationRef, { totalCount: number; unreadCount: number }>({
  type: NotificationRef,
  name: 'NotificationConnection',
  fields: (t) => ({ totalCount: t.exposeInt('totalCount'), unreadCount: t.exposeInt('unreadCount') }),
});

builder.queryField('notifications', (t) =>
  t.withAuth(rules.personalKey).field({
    type: NotificationConnectionRef,
    description: "The viewer's notifications, newest first.",
    args: {
      unreadOnly: t.arg.boolean({ defaultValue: false }),
      ...connectionArgs(t),
    },
    resolve: (_root, args, ctx, info) =>
      ctx.services.notifications.page(ctx.principal, args, queryFromInfo({ context: ctx, info, path: ['edges', 'node'] })),
  }),
);

builder.mutationField('markNotificationsRead', (t) =>
  t.withAuth(rules.personalKey).int({
    description: 'Marks these notifications read (null = all); returns how many changed.',
    args: { ids: t.arg.idList() },
    resolve: (_root, { ids }, ctx) => ctx.services.notifications.markRead(ctx.principal, ids ?? null),
  }),
);

builder.subscriptionField('notificationAdded', (t) =>
  t.withAuth(rules.personalKey).prismaField({
    type: NotificationRef,
    description: "The viewer's new notifications.",
    subscribe: (_root, _args, ctx) => ctx.services.pubsub.subscribe('notificationAdded', ctx.principal.userId),
    resolve: (query, event: NotificationAddedPayload, _args, ctx) =>
      ctx.services.prisma.notification.findUniqueOrThrow({ ...query, where: { id: event.id } }),
  }),
);
