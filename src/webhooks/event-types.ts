// The event types an endpoint may subscribe to (SPEC §5 "Webhooks"), and the audit actions each
// comes from: every change that is audited in its transaction enqueues its webhook events in the
// same transaction (src/audit/record.ts), so an event exists exactly when its change committed.
import type { AuditAction } from '../audit/actions.js';

export const WEBHOOK_EVENT_TYPES = [
  'api_key.created',
  'api_key.rotated',
  'api_key.expiring',
  'api_key.revoked',
  'api_key.exposed',
  'member.deprovisioned',
] as const;

export type SubscribableEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
/** `webhook.test` is sent by sendTestWebhook to one endpoint; nobody subscribes to it. */
export type WebhookEventType = SubscribableEventType | 'webhook.test';
export type KeyEventType = Extract<SubscribableEventType, `api_key.${string}`>;

const SUBSCRIBABLE = new Set<string>(WEBHOOK_EVENT_TYPES);
export const isSubscribableEventType = (type: string): type is SubscribableEventType => SUBSCRIBABLE.has(type);

/**
 * Audited actions that are webhook events. Keys of every kind (personal, collection access, SCIM)
 * are `api_key.*`, told apart by `data.apiKey.kind`. A collection access key's creation is
 * audited as collection.shared (about the collection): its api_key.created is enqueued there.
 */
export const EVENT_OF_AUDIT_ACTION: Partial<Record<AuditAction, SubscribableEventType>> = {
  'api_key.created': 'api_key.created',
  'scim_key.created': 'api_key.created',
  'api_key.rotated': 'api_key.rotated',
  'scim_key.rotated': 'api_key.rotated',
  'api_key.revoked': 'api_key.revoked',
  'access_key.revoked': 'api_key.revoked',
  'scim_key.revoked': 'api_key.revoked',
  'exposure.reported': 'api_key.exposed',
  'member.deprovisioned': 'member.deprovisioned',
};
