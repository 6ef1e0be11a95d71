// Input checks shared by every domain; each failure is BAD_USER_INPUT naming the field.
import { z } from 'zod';
import { badInput, capReached } from './errors.js';

/** C0 and C1 controls, DEL, and the bidi marks, embeddings, overrides and isolates. */
// eslint-disable-next-line no-control-regex
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

const nameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .refine((s) => !NAME_FORBIDDEN.test(s), 'must not contain control characters or bidirectional formatting characters');

/** Names (keys, collections, members, requests): trimmed, 1..100 characters, no controls or bidi formatting (SPEC §4, §5). */
export function validName(field: string, value: string): string {
  return parseOrThrow(field, nameSchema, value);
}

/** The same rule, for a zod object that holds a name (e.g. a collection's request). */
export const nameField = nameSchema;

/**
 * A collection request URL: an absolute http(s) URL, or one that starts with a Postman variable
 * (`{{baseUrl}}/users`). Anything else (javascript:, data:, file:, " JavaScript:") is refused.
 */
export const requestUrl = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .refine(isRequestUrl, 'must be an absolute http(s) URL or start with a {{variable}}');

const POSTMAN_VARIABLE = /^\{\{[A-Za-z0-9_.$-]{1,100}\}\}/;
// eslint-disable-next-line no-control-regex
const URL_FORBIDDEN = /[\s\u0000-\u001f\u007f-\u009f]/u;

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
  if (!Number.isInteger(n) || n < 0 || n > max) throw capReached('first', `must be from 0 to ${max}`, 'maxPageSize');
  return n;
}

/** A list argument of at most `max` items (checked before any other work on it). */
export function boundedList<T>(field: string, list: readonly T[], max: number, limit: string): readonly T[] {
  if (list.length > max) throw capReached(field, `at most ${max} per call`, limit);
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
