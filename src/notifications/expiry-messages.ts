// The words of an expiry reminder: one line in-app per key, one email per owner and job run.
import escapeHtml from 'escape-html';
import { displayHint } from '../keys/format.js';
import type { NoticePerson, RenderedEmail } from './messages.js';

export interface ExpiringKey {
  name: string;
  hint: string;
  expiresAt: Date;
  /** whole days left, rounded up */
  daysLeft: number;
}

const DAY_MS = 86_400_000;

/** Whole days from `now` to `expiresAt`, rounded up: 1 ms left is 1 day, 24 h + 1 ms are 2. */
export function daysLeft(expiresAt: Date, now: Date): number {
  return Math.ceil((expiresAt.getTime() - now.getTime()) / DAY_MS);
}

const inDays = (days: number) => `in ${days} ${days === 1 ? 'day' : 'days'}`;

function describe(key: ExpiringKey): string {
  return `API key "${key.name}" (${displayHint('PERSONAL', key.hint)})`;
}

/** The in-app line, e.g. `Your API key "CI" (kp_…Xy9Q) expires in 7 days, on 2026-12-19T10:00:00.000Z.` */
export function expiryReminderMessage(key: ExpiringKey): string {
  return `Your ${describe(key)} expires ${inDays(key.daysLeft)}, on ${key.expiresAt.toISOString()}.`;
}

/** One email for one owner, listing every key of theirs that reached a reminder in one job run. */
export function expiryReminderEmail(owner: NoticePerson, keys: ExpiringKey[]): RenderedEmail {
  const first = keys[0]!;
  const subject =
    keys.length === 1 ? `Your ${describe(first)} expires ${inDays(first.daysLeft)}` : `${keys.length} of your Keyplane keys expire soon`;
  const lines = keys.map((k) => `${describe(k)}: expires ${inDays(k.daysLeft)}, on ${k.expiresAt.toISOString()}`);
  const advice = 'When a key expires, requests made with it are refused. Move its expiry later or generate a new key in Keyplane.';
  const text = [
    `Hello ${owner.name},`,
    '',
    keys.length === 1 ? 'This key expires soon:' : 'These keys expire soon:',
    ...lines.map((l) => `- ${l}`),
    '',
    advice,
  ].join('\n');
  const html = [
    `<p>Hello ${escapeHtml(owner.name)},</p>`,
    `<p>${keys.length === 1 ? 'This key expires soon:' : 'These keys expire soon:'}</p>`,
    `<ul>${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>`,
    `<p>${escapeHtml(advice)}</p>`,
  ].join('\n');
  return { subject, text, html };
}
