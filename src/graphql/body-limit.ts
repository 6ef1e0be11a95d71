// The request body size limit, without yoga's per-request stream wrapping when it is not needed.
// yoga's own limit pipes every body through a TransformStream (an AbortSignal and a DOMException
// per request: ~10% of the CPU of a small request, measured with --cpu-prof). Node's HTTP parser
// never delivers more body than a valid Content-Length says, so checking that header is enough;
// only a body without one (chunked) is counted as it streams.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const CONTENT_LENGTH = /^\d+$/;

const tooLarge = (limit: number) =>
  new GraphQLError(`Request body is larger than ${limit} bytes`, {
    extensions: { code: 'BAD_USER_INPUT', http: { status: 413 } },
  });

export function useBodySizeLimit(limit: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser }) {
      const contentLength = request.headers.get('content-length');
      if (contentLength !== null) {
        if (!CONTENT_LENGTH.test(contentLength)) {
          throw new GraphQLError('Invalid Content-Length', { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
        }
        if (Number(contentLength) > limit) throw tooLarge(limit);
        return;
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser((req) => {
        let read = 0;
        const counted = req.body!.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              read += chunk.byteLength;
              if (read > limit) controller.error(tooLarge(limit));
              else controller.enqueue(chunk);
            },
          }),
        );
        return parse(new Request(req.url, { method: req.method, headers: req.headers, body: counted, duplex: 'half' } as RequestInit));
      });
    },
  };
}
