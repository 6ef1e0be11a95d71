// What the command line says of an unexpected error: one line, never a stack, never a secret.
import { safeError } from '../observability/log.js';

export function errorText(error: unknown): string {
  // Node's happy-eyeballs connect (localhost: ::1 then 127.0.0.1) fails with an AggregateError
  // whose own message is empty: the first address's error says what happened.
  const first = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  const safe = safeError(first);
  return safe.message || (safe.code === undefined ? safe.type : String(safe.code));
}
