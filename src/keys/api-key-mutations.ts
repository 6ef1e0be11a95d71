// Mutations on an existing personal key; the rules live in auth/policy.ts (keyActionRules).
import { auditActorOf } from '../audit/actor.js';
import { rules } from '../auth/policy.js';
import { builder } from '../graphql/builder.js';
import { ApiKeyRef, GeneratedApiKeyRef } from './api-key.js';

builder.mutationFields((t) => ({
  setApiKeyExpiry: t.withAuth(rules.personalKey).field({
    type: ApiKeyRef,
    description: 'Owner only. null = never (a team expiry, when set, still applies).',
    args: { id: t.arg.id({ required: true }), expiresAt: t.arg({ type: 'DateTime' }) },
    resolve: (_root, { id, expiresAt }, ctx) => ctx.services.lifecycle.setExpiry(ctx.principal, id, expiresAt ?? null, auditActorOf(ctx)),
  }),
  regenerateApiKey: t.withAuth(rules.personalKey).field({
    type: GeneratedApiKeyRef,
    description:
      'Same id and name, new secret. The old secret fails at once (overlapMinutes 0), or keeps working overlapMinutes more (0..1440, an enabled key only): see ApiKey.previousSecretExpiresAt.',
    args: { id: t.arg.id({ required: true }), overlapMinutes: t.arg.int({ defaultValue: 0 }) },
    resolve: (_root, { id, overlapMinutes }, ctx) =>
      ctx.services.lifecycle.regenerate(ctx.principal, id, overlapMinutes ?? 0, auditActorOf(ctx)),
  }),
  renameApiKey: t.withAuth(rules.personalKey).field({
    type: ApiKeyRef,
    args: { id: t.arg.id({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_root, { id, name }, ctx) => ctx.services.lifecycle.rename(ctx.principal, id, name, auditActorOf(ctx)),
  }),
  deleteApiKey: t.withAuth(rules.personalKey).field({
    type: ApiKeyRef,
    description: 'Status REVOKED, reason REVOKED_BY_OWNER; the key fails at once.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => ctx.services.lifecycle.delete(ctx.principal, id, auditActorOf(ctx)),
  }),
  setApiKeyEnabled: t.withAuth(rules.personalKey).field({
    type: ApiKeyRef,
    description: "Owner or admin (another user's key needs the ENTERPRISE plan). DISABLED is reversible, REVOKED is not.",
    args: { id: t.arg.id({ required: true }), enabled: t.arg.boolean({ required: true }) },
    resolve: (_root, { id, enabled }, ctx) => ctx.services.lifecycle.setEnabled(ctx.principal, id, enabled, auditActorOf(ctx)),
  }),
}));
