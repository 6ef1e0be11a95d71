// Input checks shared by every domain; each failure is BAD_USER_INPUT naming the field. One rule,
// one message: every bound below says it the same way wherever it applies (a page size, a number
// of days or a name's length), so a client reads one vocabulary.
import { z } from 'zod';
import { badInput, capReached } from './errors.js';

/** The messages of the rules (with the field in front: `input.name: must not be empty`). */
export const rule = {
  empty: 'must not be empty',
  tooLong: (max: number) => `must be at most ${max} characters`,
  range: (min: number, max: number) => `must be a whole number from ${min} to ${max}`,
  future: 'must be in the future',
  storable: 'must be a date in the years 1 to 9999 (UTC)',
  perCall: (max: number) => `at most ${max} per call`,
} as const;

/** A string of at most `max` characters; `trim` first, then `required` refuses an empty one. */
export function text(max: number, options: { trim?: boolean; required?: boolean } = {}) {
  const base = options.trim ? z.string().trim() : z.string();
  return (options.required ? base.min(1, rule.empty) : base).max(max, rule.tooLong(max));
}

/** A whole number in min..max (a page size, a number of days, minutes of overlap…). */
export function wholeNumber(field: string, n: number, min: number, max: number): number {
  if (!Number.isInteger(n) || n < min || n > max) throw badInput(field, rule.range(min, max));
  return n;
}

/** An expiry in days, a key's or a team's: at most ten years. */
export const MAX_EXPIRY_DAYS = 3650;
export const expiryDays = (field: string, days: number) => wholeNumber(field, days, 1, MAX_EXPIRY_DAYS);

// The moments both JavaScript and PostgreSQL hold as we write them: the DateTime scalar takes
// year 0 and an offset that lands past 9999, which the database refuses (an unexpected error).
const EARLIEST = new Date('0001-01-01T00:00:00.000Z').getTime();
const LATEST = new Date('9999-12-31T23:59:59.999Z').getTime();

/** A moment the database can store and compare: years 1..9999, UTC. */
export function storableDate(field: string, at: Date): Date {
  const t = at.getTime();
  if (Number.isNaN(t) || t < EARLIEST || t > LATEST) throw badInput(field, rule.storable);
  return at;
}

/** A storable moment after `now`. */
export function futureDate(field: string, at: Date, now = new Date()): Date {
  storableDate(field, at);
  if (at.getTime() <= now.getTime()) throw badInput(field, rule.future);
  return at;
}

/** C0 and C1 controls, DEL, and the bidi marks, embeddings, overrides and isolates. */
// eslint-disable-next-line no-control-regex
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** Text people read in a list (a name, a description): trimmed, at most `max`, no controls or bidi formatting. */
export function displayText(max: number, options: { required?: boolean } = {}) {
  return text(max, { trim: true, required: options.required }).refine(
    (s) => !NAME_FORBIDDEN.test(s),
    'must not contain control characters or bidirectional formatting characters',
  );
}

/**
 * Text reported from outside (a scanner's location), kept as evidence but shown safely: controls
 * and bidi formatting become U+FFFD, so a line break or an override cannot disguise it.
 */
export function neutralized(s: string): string {
  return s.replace(new RegExp(NAME_FORBIDDEN.source, 'gu'), '\ufffd');
}

const nameSchema = displayText(100, { required: true });

/** Names (keys, collections, members, requests): trimmed, 1..100 characters, no controls or bidi formatting (SPEC §4, §5). */
export function validName(field: string, value: string): string {
  return parseOrThrow(field, nameSchema, value);
}

/** The same rule, for a zod object that holds a name (a collection's request, a bootstrap's team). */
export const nameField = nameSchema;

/**
 * A collection request URL: an absolute http(s) URL, or one that starts with a Postman variable
 * (`{{baseUrl}}/users`). Anything else (javascript:, data:, file:, " JavaScript:") is refused.
 */
export const requestUrl = text(2048).refine(isRequestUrl, 'must be an absolute http(s) URL or start with a {{variable}}');

const POSTMAN_VARIABLE = /^\{\{[A-Za-z0-9_.$-]{1,100}\}\}/;
/** Whitespace and C0/C1 controls: a URL parser would drop or encode them silently (webhook URLs reuse it). */
// eslint-disable-next-line no-control-regex
export const URL_FORBIDDEN = /[\s\u0000-\u001f\u007f-\u009f]/u;

function isRequestUrl(value: string): boolean {
  if (URL_FORBIDDEN.test(value)) return false;
  if (POSTMAN_VARIABLE.test(value)) return true;
  if (!/^https?:\/\//i.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

export function parseOrThrow<T>(field: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = [field, ...issue.path.map(String)].join('.');
  throw badInput(where, issue.message);
}

/** SPEC §5 bounded answers: a page is `first` items (default 50, at most 500). */
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

/** The page size of a list field: 0..MAX_PAGE, default DEFAULT_PAGE (also for an explicit null). */
export function pageSize(first: number | null | undefined, max = MAX_PAGE): number {
  const n = first ?? DEFAULT_PAGE;
  if (!Number.isInteger(n) || n < 0 || n > max) throw capReached('first', rule.range(0, max), 'maxPageSize');
  return n;
}

/** A list argument of at most `max` items (checked before any other work on it). */
export function boundedList<T>(field: string, list: readonly T[], max: number, limit: string): readonly T[] {
  if (list.length > max) throw capReached(field, rule.perCall(max), limit);
  return list;
}

// An unpaired high surrogate, or a low one without its high half.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string may not be stored, or null. */
export function stringProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(s)) return 'must not contain unpaired UTF-16 surrogates';
  return null;
}
