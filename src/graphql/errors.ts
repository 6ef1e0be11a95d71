// The one place where a domain error (domain/errors.ts) becomes what a client reads: a
// GraphQLError with the same message, extensions.code and details, and extensions.http (status,
// Retry-After) for yoga's response status. Resolvers, scope-auth and the input guard throw
// DomainErrors: useDomainErrors maps them in every result (HTTP, SSE, graphql-ws) before yoga's
// masking sees them; the plugins that answer before execution map theirs with toGraphQLError.
// Only GraphQLErrors reach clients; yoga masks everything else.
import { GraphQLError } from 'graphql';
import { type Plugin, maskError as yogaMaskError } from 'graphql-yoga';
import { databaseUnavailable, isDatabaseUnavailable } from '../db/outage.js';
import { DomainError } from '../domain/errors.js';

/** The client's view of a domain error; `at` is the located error that carried it (path, locations). */
export function toGraphQLError(error: DomainError, at?: GraphQLError): GraphQLError {
  const extensions: Record<string, unknown> = { code: error.code, ...error.details };
  if (error.status !== undefined) {
    extensions.http =
      error.retryAfter === undefined
        ? { status: error.status }
        : { status: error.status, headers: { 'Retry-After': String(error.retryAfter) } };
  }
  return new GraphQLError(error.message, {
    nodes: at?.nodes,
    source: at?.source,
    positions: at?.positions,
    path: at?.path,
    extensions,
  });
}

/** The domain error a (located) error carries, if any. */
function domainErrorOf(error: unknown): DomainError | undefined {
  if (error instanceof DomainError) return error;
  if (error instanceof GraphQLError && error.originalError instanceof DomainError) return error.originalError;
  return undefined;
}

function mapErrors<T extends { errors?: readonly unknown[] }>(result: T, set: (r: T) => void): void {
  if (!result.errors?.some((e) => domainErrorOf(e))) return;
  set({
    ...result,
    errors: result.errors.map((e) => {
      const domain = domainErrorOf(e);
      return domain ? toGraphQLError(domain, e instanceof GraphQLError ? e : undefined) : e;
    }),
  });
}

type MaybeResult = { errors?: readonly unknown[] } | AsyncIterable<unknown>;
const isStream = (r: MaybeResult): r is AsyncIterable<unknown> => Symbol.asyncIterator in r;

/** Maps the domain errors of every execution and subscription event (listed before any result hook). */
export function useDomainErrors(): Plugin {
  const onResult = ({ result, setResult }: { result: MaybeResult; setResult: (r: never) => void }) => {
    if (isStream(result)) {
      return {
        onNext: ({ result: event, setResult: setEvent }: { result: { errors?: readonly unknown[] }; setResult: (r: never) => void }) =>
          mapErrors(event, setEvent as (r: typeof event) => void),
      };
    }
    mapErrors(result, setResult as (r: typeof result) => void);
    return undefined;
  };
  return {
    onExecute: () => ({ onExecuteDone: onResult as never }),
    onSubscribe: () => ({ onSubscribeResult: onResult as never }),
  };
}

/**
 * yoga's `maskedErrors.maskError`: every error yoga would mask passes here, whether a resolver or a
 * plugin threw it. A domain error that got this far (thrown where no result hook sees it) keeps its
 * code; the database being unreachable becomes the coded 503; anything else is masked as before.
 */
export function maskError(error: unknown, message: string, isDev?: boolean): Error {
  const domain = domainErrorOf(error);
  if (domain) return toGraphQLError(domain, error instanceof GraphQLError ? error : undefined);
  if (isDatabaseUnavailable(error)) return toGraphQLError(databaseUnavailable(), error instanceof GraphQLError ? error : undefined);
  return yogaMaskError(error, message, isDev);
}
