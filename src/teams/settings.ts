// apiKeySettings (every member: they need to know the expiry rule) and updateApiKeySettings (admins, ENTERPRISE).
import { auditActorOf } from '../audit/actor.js';
import { rules } from '../auth/policy.js';
import { builder } from '../graphql/builder.js';
import type { Settings } from './settings-service.js';

const ApiKeySettingsRef = builder.objectRef<Settings>('ApiKeySettings').implement({
  fields: (t) => ({
    allowMembersToGenerateKeys: t.exposeBoolean('allowMembersToGenerateKeys'),
    keyExpiryDays: t.exposeInt('keyExpiryDays', { nullable: true }),
    autoRevokeExposedKeys: t.exposeBoolean('autoRevokeExposedKeys'),
    expiryReminderDays: t.exposeIntList('expiryReminderDays', {
      description: "Days before a key's expiry (its own or the team's) at which its owner is reminded, largest first; [] = never.",
    }),
    scimEnabled: t.exposeBoolean('scimEnabled', {
      description: "/scim/v2 answers the team's identity provider (with a SCIM API key; ENTERPRISE only). Off by default.",
    }),
  }),
});

const ExposedKeysActionEnum = builder.enumType('ExposedKeysAction', { values: ['REVOKE', 'IGNORE'] as const });

const ApiKeySettingsInput = builder.inputType('ApiKeySettingsInput', {
  description: 'An absent field is left as it is; keyExpiryDays: null = never expire; expiryReminderDays: [] = no reminders.',
  fields: (t) => ({
    allowMembersToGenerateKeys: t.boolean(),
    keyExpiryDays: t.int(),
    autoRevokeExposedKeys: t.boolean(),
    exposedKeysAction: t.field({ type: ExposedKeysActionEnum }),
    expiryReminderDays: t.intList({ description: '0 to 5 distinct whole days from 1 to 90 (default [7, 1]); null = left as it is.' }),
    scimEnabled: t.boolean({ description: 'Turns /scim/v2 on or off for the team; null = left as it is.' }),
  }),
});

const ApiKeySettingsPayloadRef = builder
  .objectRef<{ settings: Settings; updatedKeyCount: number; expiredKeyCount: number; openExposureCount: number; warning: string | null }>(
    'ApiKeySettingsPayload',
  )
  .implement({
    fields: (t) => ({
      settings: t.field({ type: ApiKeySettingsRef, resolve: (p) => p.settings }),
      updatedKeyCount: t.exposeInt('updatedKeyCount'),
      expiredKeyCount: t.exposeInt('expiredKeyCount'),
      openExposureCount: t.exposeInt('openExposureCount'),
      warning: t.exposeString('warning', { nullable: true }),
    }),
  });

builder.queryField('apiKeySettings', (t) =>
  t.withAuth(rules.personalKey).field({
    type: ApiKeySettingsRef,
    resolve: (_root, _args, ctx) => ctx.services.settings.get(ctx.principal.teamId),
  }),
);

builder.mutationField('updateApiKeySettings', (t) =>
  t.withAuth(rules.enterpriseAdmin).field({
    type: ApiKeySettingsPayloadRef,
    args: { input: t.arg({ type: ApiKeySettingsInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.settings.update(ctx.principal, input, auditActorOf(ctx)),
  }),
);
