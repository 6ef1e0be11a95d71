// The errors of SPEC §4, as the domain throws them: a wire code, a message for the client, the
// details it may read next to the code (field, limit, plan, ids…) and, for the few that decide a
// request's answer, the HTTP status (401, 429, 503) and Retry-After. No GraphQL here: the one
// translation into a GraphQLError is graphql/errors.ts (yoga's maskError, and the plugins that
// answer before execution).

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'RATE_LIMITED'
  | 'QUOTA_EXCEEDED'
  | 'PLAN_REQUIRED'
  | 'SERVICE_UNAVAILABLE';

export interface DomainErrorOptions {
  /** what the client reads next to the code (extensions), in this order */
  details?: Record<string, unknown>;
  /** the HTTP status of an answer this error decides (absent: the transport's default) */
  status?: number;
  /** whole seconds, sent as Retry-After with the status */
  retryAfter?: number;
}

export class DomainError extends Error {
  override readonly name = 'DomainError';
  readonly details: Readonly<Record<string, unknown>>;
  readonly status: number | undefined;
  readonly retryAfter: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: DomainErrorOptions = {},
  ) {
    super(message);
    this.details = options.details ?? {};
    this.status = options.status;
    this.retryAfter = options.retryAfter;
  }
}

export const isDomainError = (error: unknown): error is DomainError => error instanceof DomainError;

export function codedError(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
  return new DomainError(code, message, { details });
}

/** A request-level failure: the HTTP status is 401. */
export const unauthenticated = (message: string) => new DomainError('UNAUTHENTICATED', message, { status: 401 });

export const forbidden = (message: string) => codedError('FORBIDDEN', message);

/** Same answer whether the thing does not exist or the caller may not see it. */
export const notFound = (what: string, id: string) => codedError('NOT_FOUND', `${what} ${shownId(id)} was not found`);

/** An id as an error repeats it: short, printable ASCII (anything else is the client's own noise). */
function shownId(id: string): string {
  return /^[\x21-\x7e]{1,100}$/.test(id) ? id : '(the given id)';
}

export const badInput = (field: string, message: string) => codedError('BAD_USER_INPUT', `${field}: ${message}`, { field });

/** A cap reached (SPEC §5): BAD_USER_INPUT naming the field and the limit (e.g. maxPageSize). */
export const capReached = (field: string, message: string, limit: string) =>
  codedError('BAD_USER_INPUT', `${field}: ${message}`, { field, limit });

export const planRequired = (plan: string, what: string) => codedError('PLAN_REQUIRED', `${what} needs the ${plan} plan`, { plan });

/** 429 with Retry-After (whole seconds); the operation was not executed. */
export const tooManyRequests = (code: 'RATE_LIMITED' | 'QUOTA_EXCEEDED', message: string, retryAfterSeconds: number) =>
  new DomainError(code, message, { details: { retryAfter: retryAfterSeconds }, status: 429, retryAfter: retryAfterSeconds });
