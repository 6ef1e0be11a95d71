// A subscription stream that ends once it has delivered its last event, and holds something (a
// socket's close) until then. apiKeyRevoked uses it to deliver its own key's revocation before
// the connection closes (SPEC §4): the subscription decides, the transport just runs streams.
import { setImmediate as nextCheckPhase } from 'node:timers/promises';

/**
 * `events` until `isLast` has been delivered, and the events already waiting then: the stream ends
 * on the first pull after that event that finds nothing waiting, i.e. once the transport has sent
 * them (the shared execution sends a result before it pulls again).
 * `hold()` is taken on the first pull (a stream never pulled holds nothing) and released when the
 * stream ends, however it ends. No buffer of its own: each pull is a pull of `events`.
 */
export function endingAfter<T>(events: AsyncIterable<T>, isLast: (event: T) => boolean, hold: () => () => void): AsyncIterableIterator<T> {
  let source: AsyncIterator<T> | undefined;
  let release: (() => void) | undefined;
  let delivered = false;
  let ended = false;
  const end = async (): Promise<IteratorResult<T>> => {
    if (!ended) {
      ended = true;
      release?.();
      await source?.return?.();
    }
    return { done: true, value: undefined };
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (ended) return end();
      if (delivered && source) {
        // Events already waiting are delivered too (a revocation of several of the member's keys
        // publishes them together: the socket gets all of them before it closes); nothing that
        // is not already there is waited for.
        const waiting = await Promise.race([source.next(), nextCheckPhase().then(() => null)]);
        if (waiting === null || waiting.done) return end();
        return waiting;
      }
      if (!source) {
        release = hold();
        source = events[Symbol.asyncIterator]();
      }
      const next = await source.next();
      if (next.done) return end();
      if (isLast(next.value)) delivered = true;
      return next;
    },
    return: end,
  };
}
