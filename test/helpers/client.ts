// A plain GraphQL-over-HTTP client for the tests, typed by the codegen documents.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type GraphQLFormattedError, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
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
export const codes = (r: { errors?: { extensions?: { code?: unknown } }[] }) => (r.errors ?? []).map((e) => e.extensions?.code);

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

/** A GraphQL-over-SSE subscription (distinct connections mode). */
export async function openSse(url: string, key: string | null, query: string) {
  const controller = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify({ query }),
    signal: controller.signal,
  });
  const reader = response.ok ? response.body!.getReader() : null;
  const decoder = new TextDecoder();
  let text = '';
  let ended = false;
  return {
    response,
    /** Reads until the text contains `needle`, the stream ends, or `timeoutMs` pass; returns all text so far. */
    async readUntil(needle: string | null, timeoutMs = 5_000): Promise<{ text: string; ended: boolean }> {
      const deadline = Date.now() + timeoutMs;
      while (reader && !ended && !(needle !== null && text.includes(needle)) && Date.now() < deadline) {
        const chunk = await Promise.race([
          reader.read(),
          new Promise<null>((resolve) => setTimeout(() => resolve(null), Math.max(0, deadline - Date.now()))),
        ]);
        if (chunk === null) break;
        if (chunk.done) ended = true;
        else text += decoder.decode(chunk.value);
      }
      return { text, ended };
    },
    close: () => controller.abort(),
  };
}

/** POSTs `body` chunked (no Content-Length), in pieces of 64 KiB, as a streaming client does. */
export function postChunked(url: string, headers: Record<string, string>, body: Uint8Array): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers,
    body: new ReadableStream({
      start(controller) {
        for (let i = 0; i < body.length; i += 65_536) controller.enqueue(body.subarray(i, i + 65_536));
        controller.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);
}

/**
 * A gauge or counter of GET /metrics (no labels), e.g. `verification_cache_misses`: the
 * authentications that read the database since start.
 */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const line = new RegExp(`^keyplane_${name} (\\S+)$`, 'm').exec(text);
  if (!line) throw new Error(`no metric keyplane_${name}`);
  return Number(line[1]);
}

/** Authentications that read the database since start (the verification cache's misses). */
export const cacheMisses = (url: string) => metric(url, 'verification_cache_misses');
