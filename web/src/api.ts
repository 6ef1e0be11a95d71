// GraphQL over HTTP for queries and mutations, graphql-ws for subscriptions; every document is
// typed by codegen from the checked-in schema, so a contract change breaks the build.
import { type Client, createClient } from 'graphql-ws';
import type { TypedDocumentString } from './gql/graphql';

export interface ApiErrorDetail {
  message: string;
  code?: string;
  /** the input field a BAD_USER_INPUT error is about, e.g. "name" */
  field?: string;
  retryAfter?: number;
}

export class ApiError extends Error {
  constructor(
    readonly errors: ApiErrorDetail[],
    readonly status: number,
  ) {
    super(errors.map((e) => e.message).join('; '));
  }

  get code() {
    return this.errors[0]?.code;
  }

  /** The message for one input field, if the server named it. */
  forField(field: string): string | undefined {
    return this.errors.find((e) => e.field === field || e.field?.endsWith(`.${field}`))?.message.replace(/^[\w.]+: /, '');
  }

  /** What to show a person: "slow down, retry in N s" for 429, the server's words otherwise. */
  get readable(): string {
    const limited = this.errors.find((e) => e.code === 'RATE_LIMITED' || e.code === 'QUOTA_EXCEEDED');
    if (limited) return `Slow down: retry in ${limited.retryAfter ?? 1} s.`;
    return this.message;
  }
}

export const endpoint = '/graphql';

export async function request<R, V>(key: string, document: TypedDocumentString<R, V>, variables?: V): Promise<R> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', 'x-api-key': key },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  type WireError = { message: string; extensions?: { code?: string; field?: string; retryAfter?: number } };
  const body = (await res.json().catch(() => ({}))) as { data?: R; errors?: WireError[] };
  if (body.errors?.length || !body.data) {
    const retryHeader = Number(res.headers.get('retry-after')) || undefined;
    const errors: WireError[] = body.errors ?? [{ message: `HTTP ${res.status}` }];
    throw new ApiError(
      errors.map((e) => ({
        message: e.message,
        code: e.extensions?.code,
        field: e.extensions?.field,
        retryAfter: e.extensions?.retryAfter ?? retryHeader,
      })),
      res.status,
    );
  }
  return body.data;
}

/** `onRefused`: the key stopped working (4401); `onLost`: any other close the client gives up on. */
export function realtimeClient(key: string, onRefused: (reason: string) => void, onLost: () => void): Client {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${endpoint}`;
  return createClient({
    url,
    connectionParams: { 'x-api-key': key },
    lazy: false,
    retryAttempts: Infinity,
    shouldRetry: (event) => !(event instanceof CloseEvent && event.code === 4401),
    on: {
      closed: (event) => {
        if (!(event instanceof CloseEvent)) return;
        if (event.code === 4401) onRefused(event.reason.replace(/^Unauthenticated: /, ''));
        // graphql-ws does not retry its fatal codes (4429, 4500…) nor 1008 ("too slow") here
        else if (event.code >= 4000 || event.code === 1008) onLost();
      },
    },
  });
}

export function subscribe<R, V>(client: Client, document: TypedDocumentString<R, V>, onData: (data: R) => void, variables?: V): () => void {
  return client.subscribe<R>(
    { query: document.toString(), variables: variables as Record<string, unknown> | undefined },
    { next: (value) => value.data && onData(value.data as R), error: () => {}, complete: () => {} },
  );
}
