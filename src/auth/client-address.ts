// The client's address, one rule for HTTP, SSE and graphql-ws (the brute-force limit, lastUsedFrom
// and the audit trail count on it): the direct peer, unless the peer is a proxy listed in
// TRUST_PROXY; then X-Forwarded-For is walked from the right, skipping listed proxies, and the
// first address not listed is the client. The header is ignored from anyone else (spoofing it
// changes nothing). IPv4-mapped IPv6 (::ffff:1.2.3.4) reads as IPv4.
import type { IncomingMessage } from 'node:http';
import { type BlockList, isIP } from 'node:net';

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** An address in canonical text, or null when `raw` is not an IP address. */
export function normalizeAddress(raw: string): string | null {
  let text = raw.trim();
  // X-Forwarded-For entries sometimes carry a port: "1.2.3.4:5678", "[2001:db8::1]:443".
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  text = text.replace(/%.*$/, ''); // an IPv6 zone id says nothing about the client
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6) return null;
  const mapped = MAPPED_V4.exec(text);
  if (mapped && isIP(mapped[1]!) === 4) return mapped[1]!;
  return text.toLowerCase();
}

function trusted(list: BlockList, address: string): boolean {
  return list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * `peer`: the socket's remote address; `forwardedFor`: the X-Forwarded-For header (node joins
 * repeated headers with ", ").
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trustProxy: BlockList | null): string {
  let client = (peer && normalizeAddress(peer)) ?? 'unknown';
  if (!trustProxy || client === 'unknown' || !trusted(trustProxy, client) || forwardedFor === undefined) return client;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(hops[i]!);
    // Garbage where an address should be: the last proxy that forwarded it is all we know.
    if (hop === null) break;
    client = hop;
    if (!trusted(trustProxy, hop)) break;
  }
  return client;
}

/** The client address of a Node request (HTTP, SSE, or a WebSocket's upgrade request). */
export function clientAddressOfRequest(req: IncomingMessage | undefined, trustProxy: BlockList | null): string {
  return clientAddress(req?.socket?.remoteAddress, req?.headers['x-forwarded-for'], trustProxy);
}
