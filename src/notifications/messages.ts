// The words of a revocation notice: one line in-app, one email per owner (plain text and HTML).
import escapeHtml from 'escape-html';
import type { KeyKind, RevocationReason } from '../generated/prisma/enums.js';
import { displayHint } from '../keys/format.js';

export interface NoticeKey {
  kind: KeyKind;
  name: string;
  hint: string;
  revokedAt: Date;
  reason: RevocationReason;
  /** the collection of an access key */
  collectionName?: string;
}

export interface NoticePerson {
  name: string;
  email: string;
}

/** Who revoked it, as the owner reads it. */
function byWhom(key: NoticeKey, actor: NoticePerson | null, ownerIsActor: boolean): string {
  switch (key.reason) {
    case 'EXPIRED':
      return 'it expired';
    case 'EXPOSED':
      return 'it was found exposed and revoked automatically';
    case 'COLLECTION_DELETED':
      return actor ? `its collection was deleted by ${actor.name} (${actor.email})` : 'its collection was deleted';
    case 'DEPROVISIONED':
      return 'your account was deprovisioned';
    default:
      if (ownerIsActor) return 'you revoked it';
      return actor ? `it was revoked by ${actor.name} (${actor.email})` : 'it was revoked by a team admin';
  }
}

function describe(key: NoticeKey): string {
  const hint = displayHint(key.kind, key.hint);
  switch (key.kind) {
    case 'COLLECTION_ACCESS':
      return `access key ${hint} to collection "${key.collectionName ?? key.name}"`;
    case 'SCIM':
      return `SCIM API key "${key.name}" (${hint})`;
    default:
      return `API key "${key.name}" (${hint})`;
  }
}

/** The in-app line, e.g. `Your API key "CI" (kp_…Xy9Q) was revoked: it was revoked by Ann (ann@x.io).` */
export function revocationMessage(key: NoticeKey, actor: NoticePerson | null, ownerIsActor: boolean): string {
  return `Your ${describe(key)} was revoked on ${key.revokedAt.toISOString()}: ${byWhom(key, actor, ownerIsActor)}.`;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** One email for one owner, listing every key a revocation took from them. */
export function revocationEmail(owner: NoticePerson, keys: NoticeKey[], actor: NoticePerson | null, ownerIsActor: boolean): RenderedEmail {
  const first = keys[0]!;
  const subject = keys.length === 1 ? `Your ${describe(first)} was revoked` : `${keys.length} of your Keyplane keys were revoked`;
  const lines = keys.map((k) => `${describe(k)}: revoked ${k.revokedAt.toISOString()}; ${byWhom(k, actor, ownerIsActor)}`);
  const text = [
    `Hello ${owner.name},`,
    '',
    keys.length === 1 ? 'This key no longer works:' : 'These keys no longer work:',
    ...lines.map((l) => `- ${l}`),
    '',
    'Requests made with a revoked key are refused. Generate a new key in Keyplane if you still need one.',
  ].join('\n');
  const html = [
    `<p>Hello ${escapeHtml(owner.name)},</p>`,
    `<p>${keys.length === 1 ? 'This key no longer works:' : 'These keys no longer work:'}</p>`,
    `<ul>${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>`,
    '<p>Requests made with a revoked key are refused. Generate a new key in Keyplane if you still need one.</p>',
  ].join('\n');
  return { subject, text, html };
}
