// No response carries `extensions.originalError`: yoga puts the parser's error there (its name
// and message, e.g. "SyntaxError: Expected property name … at position 1") when a POST body is not
// valid JSON. The error's own message and code stay; the internals go.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

function stripped(error: unknown): unknown {
  if (!(error instanceof GraphQLError) || !error.extensions || !('originalError' in error.extensions)) return error;
  const { originalError: _dropped, ...extensions } = error.extensions;
  // yoga answered such a request 400 because of the originalError it carried ("spec" errors are
  // 200 under application/json otherwise): a body that is not JSON stays a 400 without it.
  const http = extensions.http as { spec?: boolean; status?: number } | undefined;
  if (http?.spec) extensions.http = { ...http, spec: false };
  return new GraphQLError(error.message, { nodes: error.nodes, path: error.path, extensions });
}

export function useStripOriginalError(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      const results = Array.isArray(result) ? result : [result];
      const leaks = results.some(
        (r) => r && 'errors' in r && r.errors?.some((e) => e instanceof GraphQLError && e.extensions && 'originalError' in e.extensions),
      );
      if (!leaks) return;
      const mapped = results.map((r) => (r && 'errors' in r && r.errors ? { ...r, errors: r.errors.map(stripped) } : r));
      setResult((Array.isArray(result) ? mapped : mapped[0]) as typeof result);
    },
  };
}
