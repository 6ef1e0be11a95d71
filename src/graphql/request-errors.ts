// Malformed requests are the client's fault: 400 with a coded error, never a 500 and never a log
// line. yoga's GET and form parsers call JSON.parse on `variables`/`extensions` unguarded (a bad
// value became an unexpected error, logged twice). A request without a key that fails this way
// counts toward its address's failure limit, like a bad key: past it, 429.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { AuthFailureLimiter } from '../ratelimit/address-limiter.js';
import { tooManyFailuresMessage } from '../ratelimit/address-limiter.js';

export interface MalformedRequestOptions {
  authFailures: AuthFailureLimiter;
  /** the client address of a request, as the rest of the server sees it */
  addressOf: (serverContext: unknown) => string;
}

function badRequest(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
}

function hasKey(request: Request): boolean {
  return (request.headers.get('x-api-key') ?? '').trim() !== '';
}

export function useMalformedRequestErrors({ authFailures, addressOf }: MalformedRequestOptions): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, serverContext }) {
      if (!requestParser) return;
      const parse = requestParser;
      setRequestParser(async (req) => {
        try {
          return await parse(req);
        } catch (error) {
          const coded =
            error instanceof GraphQLError
              ? error
              : badRequest(
                  error instanceof SyntaxError
                    ? 'The variables or extensions parameter is not valid JSON'
                    : 'The request could not be read',
                );
          if (hasKey(request)) throw coded;
          const address = addressOf(serverContext);
          const blockedFor = await authFailures.blockedFor(address);
          if (blockedFor === 0) await authFailures.recordFailure(address);
          else {
            throw new GraphQLError(tooManyFailuresMessage(blockedFor), {
              extensions: { code: 'RATE_LIMITED', http: { status: 429, headers: { 'Retry-After': String(blockedFor) } } },
            });
          }
          throw coded;
        }
      });
    },
  };
}
