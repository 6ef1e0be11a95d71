// Input checks shared by every domain; each failure is BAD_USER_INPUT naming the field.
import { z } from 'zod';
import { badInput } from './errors.js';

const nameSchema = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

/** Names of keys and collections: trimmed, 1..100 characters (SPEC §4). */
export function validName(field: string, value: string): string {
  return parseOrThrow(field, nameSchema, value);
}

export function parseOrThrow<T>(field: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = [field, ...issue.path.map(String)].join('.');
  throw badInput(where, issue.message);
}
