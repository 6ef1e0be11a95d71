// The AuditEvent type and auditEvents (admins, ENTERPRISE): SPEC §5's types, newest first, keyset
// pages, no total count.
import { rules } from '../auth/policy.js';
import { builder } from '../graphql/builder.js';
import { connectionArgs } from '../graphql/connection.js';
import { UserRef } from '../teams/team.js';
import type { AuditEventRow } from './query.js';

const AuditActorTypeEnum = builder.enumType('AuditActorType', {
  values: {
    USER: { description: 'a member, with the key they used' },
    SCIM: { description: 'an identity provider, with its SCIM key' },
    SYSTEM: { description: 'a job of Keyplane itself (expiry, bootstrap)' },
    SCANNER: { description: "a secret scanner's report" },
  },
});

const AuditEventRef = builder.objectRef<AuditEventRow>('AuditEvent').implement({
  description: 'One change to one object of the team. Append-only; kept AUDIT_RETENTION_DAYS.',
  fields: (t) => ({
    id: t.exposeID('id'),
    at: t.expose('at', { type: 'DateTime' }),
    action: t.exposeString('action', { description: 'e.g. api_key.revoked' }),
    actorType: t.field({ type: AuditActorTypeEnum, resolve: (e) => e.actorType }),
    actor: t.field({ type: UserRef, nullable: true, description: 'the acting member (USER)', resolve: (e) => e.actor }),
    actorKeyHint: t.exposeString('actorKeyHint', { nullable: true, description: 'the key that made the request, as shown (kp_…Xy9Q)' }),
    targetType: t.exposeString('targetType'),
    targetId: t.exposeString('targetId', { nullable: true }),
    summary: t.exposeString('summary'),
    address: t.exposeString('address', { nullable: true, description: "the client's address" }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
  }),
});

const AuditEventFilterInput = builder.inputType('AuditEventFilter', {
  fields: (t) => ({
    actions: t.stringList({ description: 'any of these actions (none = all)' }),
    actorId: t.id(),
    targetId: t.string(),
    from: t.field({ type: 'DateTime', description: 'inclusive' }),
    to: t.field({ type: 'DateTime', description: 'exclusive' }),
  }),
});

// No totalCount (SPEC §5): an exact count of a million events costs more than the page.
const AuditEventConnectionRef = builder.connectionObject({ type: AuditEventRef, name: 'AuditEventConnection' });

builder.queryField('auditEvents', (t) =>
  t.withAuth(rules.enterpriseAdmin).field({
    type: AuditEventConnectionRef,
    description: "The team's audit trail, newest first (admins, ENTERPRISE).",
    args: {
      filter: t.arg({ type: AuditEventFilterInput }),
      ...connectionArgs(t),
    },
    resolve: (_root, args, ctx) => ctx.services.audit.page(ctx.principal, args),
  }),
);
