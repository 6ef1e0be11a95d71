// The audit actions of SPEC §5, in one list: auditEvents' filter accepts these names only.
// A later domain (SCIM, webhooks) adds its actions here and records them with recordAudit.
export const AUDIT_ACTIONS = [
  'api_key.created',
  'api_key.rotated',
  'api_key.renamed',
  'api_key.enabled',
  'api_key.disabled',
  'api_key.expiry_changed',
  'api_key.revoked',
  'collection.created',
  'collection.updated',
  'collection.deleted',
  'collection.shared',
  'access_key.revoked',
  'member.invited',
  'member.joined',
  'member.provisioned',
  'member.updated',
  'member.deprovisioned',
  'settings.updated',
  'scim_key.created',
  'scim_key.rotated',
  'scim_key.revoked',
  'group.created',
  'group.updated',
  'group.deleted',
  'exposure.reported',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.secret_rotated',
  'audit.exported',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

const KNOWN = new Set<string>(AUDIT_ACTIONS);
export const isAuditAction = (action: string): action is AuditAction => KNOWN.has(action);

/** What an event is about (AuditEvent.targetType). */
export type AuditTargetType =
  | 'api_key'
  | 'access_key'
  | 'scim_key'
  | 'collection'
  | 'invitation'
  | 'user'
  | 'team'
  | 'webhook'
  | 'audit'
  | 'group';
