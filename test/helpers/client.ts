// A plain GraphQL-over-HTTP client for the tests, typed by the codegen documents.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type GraphQLFormattedError, print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface GqlResponse<R> {
  status: number;
  headers: Headers;
  data?: R | null;
  errors?: (GraphQLFormattedError & { extensions?: { code?: string; [k: string]: unknown } })[];
}

export async function gql<R, V>(
  url: string,
  document: TypedDocumentNode<R, V>,
  variables?: V,
  options: { key?: string | null; headers?: Record<string, string> } = {},
): Promise<GqlResponse<R>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(options.key ? { 'x-api-key': options.key } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await res.json()) as { data?: R; errors?: GqlResponse<R>['errors'] };
  return { status: res.status, headers: res.headers, ...body };
}

/** The codes of a response's errors, in order. */
export const codes = (r: { errors?: { extensions?: { code?: unknown } }[] }) =>
  (r.errors ?? []).map((e) => e.extensions?.code);

export function wsClient(url: string, key: string | null, options: { lazy?: boolean } = {}): Client {
  return createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: key === null ? {} : { 'x-api-key': key },
    lazy: options.lazy ?? true,
    retryAttempts: 0,
  });
}

/** Opens a raw graphql-ws socket and resolves with how the server closed it. */
export function wsCloseOf(url: string, connectionParams: Record<string, unknown>): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: connectionParams })));
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    socket.on('error', reject);
  });
}
