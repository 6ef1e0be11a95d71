// `viewer`: who the key in use stands for. Readable with any key, a collection access key included.
import { rules } from './policy.js';
import type { Principal } from './principal.js';
import { CollectionAccessKeyRef } from '../collections/access-key.js';
import { ApiKeyRef } from '../keys/api-key.js';
import { builder } from '../graphql/builder.js';
import { KeyKindEnum } from '../graphql/enums.js';
import { TeamRef, UserRef } from '../teams/team.js';

const ViewerRef = builder.objectRef<Principal>('Viewer').implement({
  fields: (t) => ({
    user: t.field({
      type: UserRef,
      nullable: true,
      description: 'null for a collection access key: it stands for no user',
      resolve: (p, _args, ctx) =>
        p.keyKind === 'PERSONAL' ? ctx.services.prisma.user.findUnique({ where: { id: p.userId } }) : null,
    }),
    team: t.field({
      type: TeamRef,
      resolve: (p, _args, ctx) => ctx.services.prisma.team.findUniqueOrThrow({ where: { id: p.teamId } }),
    }),
    keyKind: t.field({ type: KeyKindEnum, resolve: (p) => p.keyKind }),
    accessKey: t.field({
      type: CollectionAccessKeyRef,
      nullable: true,
      description: 'The collection access key this request authenticated with',
      resolve: (p, _args, ctx) =>
        p.keyKind === 'COLLECTION_ACCESS' ? ctx.services.prisma.apiKey.findUnique({ where: { id: p.keyId } }) : null,
    }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'The personal key this request authenticated with',
      resolve: (p, _args, ctx) =>
        p.keyKind === 'PERSONAL' ? ctx.services.prisma.apiKey.findUnique({ where: { id: p.keyId } }) : null,
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    skipTypeScopes: true,
    authScopes: rules.anyKey,
    resolve: (_root, _args, ctx) => ctx.principal!,
  }),
);
