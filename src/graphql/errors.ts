// The error codes of SPEC §4. Only GraphQLErrors reach clients; yoga masks everything else.
import { GraphQLError } from 'graphql';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'RATE_LIMITED'
  | 'QUOTA_EXCEEDED'
  | 'PLAN_REQUIRED';

export function codedError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

/** A request-level failure: the HTTP status is 401 (yoga reads extensions.http). */
export function unauthenticated(message: string) {
  return codedError('UNAUTHENTICATED', message, { http: { status: 401 } });
}

export const forbidden = (message: string) => codedError('FORBIDDEN', message);

/** Same answer whether the thing does not exist or the caller may not see it. */
export const notFound = (what: string, id: string) =>
  codedError('NOT_FOUND', `${what} ${id} was not found`);

export const badInput = (field: string, message: string) =>
  codedError('BAD_USER_INPUT', `${field}: ${message}`, { field });

/** A cap reached (SPEC §5): BAD_USER_INPUT naming the field and the limit (e.g. maxPageSize). */
export const capReached = (field: string, message: string, limit: string) =>
  codedError('BAD_USER_INPUT', `${field}: ${message}`, { field, limit });

export const planRequired = (plan: string, what: string) =>
  codedError('PLAN_REQUIRED', `${what} needs the ${plan} plan`, { plan });

/** 429 with Retry-After (whole seconds); the operation was not executed. */
export function tooManyRequests(code: 'RATE_LIMITED' | 'QUOTA_EXCEEDED', message: string, retryAfterSeconds: number) {
  return codedError(code, message, {
    retryAfter: retryAfterSeconds,
    http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
  });
}
