// `viewer`: who the key in use stands for. Readable with any key, a collection access key included.
// Answered from the principal (the verification cache holds the caller's user, team and key rows,
// kept true by the change feed): no database read. Relations below them (createdBy, collection…)
// are loaded by plugin-prisma as usual when asked for.

import { CollectionAccessKeyRef } from '../collections/access-key.js';
import { builder } from '../graphql/builder.js';
import { KeyKindEnum } from '../graphql/enums.js';
import { ApiKeyRef } from '../keys/api-key.js';
import { TeamRef, UserRef } from '../teams/team.js';
import { rules } from './policy.js';
import type { Principal } from './principal.js';

const ViewerRef = builder.objectRef<Principal>('Viewer').implement({
  fields: (t) => ({
    user: t.field({
      type: UserRef,
      nullable: true,
      description: 'null for a collection access key: it stands for no user',
      resolve: (p) => (p.keyKind === 'PERSONAL' ? p.user : null),
    }),
    team: t.field({
      type: TeamRef,
      resolve: (p) => p.team,
    }),
    keyKind: t.field({ type: KeyKindEnum, resolve: (p) => p.keyKind }),
    accessKey: t.field({
      type: CollectionAccessKeyRef,
      nullable: true,
      description: 'The collection access key this request authenticated with',
      resolve: (p) => (p.keyKind === 'COLLECTION_ACCESS' ? p.key : null),
    }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'The personal key this request authenticated with',
      resolve: (p) => (p.keyKind === 'PERSONAL' ? p.key : null),
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.withAuth(rules.anyKey).field({
    type: ViewerRef,
    skipTypeScopes: true,
    resolve: (_root, _args, ctx) => ctx.principal,
  }),
);
