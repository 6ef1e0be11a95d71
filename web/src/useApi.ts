// A page's data: loaded with the page's key, reloaded when a live event bumps `revision`, and
// actions that reload it afterwards or show the API's error in words.
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, request } from './api';
import type { TypedDocumentString } from './gql/graphql';

export const readable = (e: unknown) => (e instanceof ApiError ? e.readable : String(e));

export function useApiData<R>(apiKey: string, document: TypedDocumentString<R, Record<string, never>>, revision: number) {
  const [data, setData] = useState<R | null>(null);
  const [error, setError] = useState<string | null>(null);
  const latest = useRef(0);
  const reload = useCallback(() => {
    const ticket = ++latest.current; // a slower, older response never overwrites a newer one
    request(apiKey, document).then(
      (d) => {
        if (ticket !== latest.current) return;
        setData(d);
        setError(null);
      },
      (e: unknown) => ticket === latest.current && setError(readable(e)),
    );
  }, [apiKey, document]);
  useEffect(reload, [reload, revision]);
  /** Runs a change, then reloads; a failure is shown as the page's error. */
  const act = useCallback(
    async (run: () => Promise<unknown>) => {
      setError(null);
      try {
        await run();
        reload();
      } catch (e) {
        setError(readable(e));
      }
    },
    [reload],
  );
  return { data, error, reload, act };
}
