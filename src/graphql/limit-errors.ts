// graphql-armor refuses abusive queries with uncoded "Syntax Error: … limit of N exceeded" errors;
// this gives each a code (BAD_USER_INPUT) and names the limit, so clients can tell them apart.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const LIMITS: [RegExp, string][] = [
  [/Query depth limit of \d+ exceeded/, 'maxDepth'],
  [/Aliases limit of \d+ exceeded/, 'maxAliases'],
  [/Directives limit of \d+ exceeded/, 'maxDirectives'],
  [/Token limit of \d+ exceeded/, 'maxTokens'],
  [/Query Cost limit of \d+ exceeded/, 'maxCost'],
];

function coded(error: GraphQLError): GraphQLError {
  const limit = LIMITS.find(([pattern]) => pattern.test(error.message))?.[1];
  if (!limit) return error;
  return new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
    nodes: error.nodes,
    extensions: { ...error.extensions, code: 'BAD_USER_INPUT', limit },
  });
}

export function useCodedLimitErrors(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      const results = Array.isArray(result) ? result : [result];
      if (!results.some((r) => r && 'errors' in r && r.errors?.length)) return;
      const mapped = results.map((r) =>
        r && 'errors' in r && r.errors ? { ...r, errors: r.errors.map((e) => (e instanceof GraphQLError ? coded(e) : e)) } : r,
      );
      setResult((Array.isArray(result) ? mapped : mapped[0]) as typeof result);
    },
  };
}
