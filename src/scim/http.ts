// /scim/v2: the identity provider's endpoint (SPEC §5). Its gate, in SPEC §4's order:
// authentication with a SCIM key only (401; 429 once the address has used up its failed
// authentications, exactly as on /graphql), the SCIM key's own rate limit (429), then the team:
// a FREE team or one with scimEnabled off gets 403. Every answer is application/scim+json, errors
// per RFC 7644 §3.12. Behind the gate this slice serves discovery (ServiceProviderConfig) only.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import type { Logger } from 'pino';
import { clientAddressOfRequest } from '../auth/client-address.js';
import type { KeyGate } from '../auth/gate.js';
import type { Principal } from '../auth/principal.js';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE } from '../db/outage.js';
import type { KeyRateLimiter, RateState } from '../ratelimit/key-limiter.js';
import { serviceProviderConfig } from './discovery.js';
import { sendScim, sendScimError } from './responses.js';

export const SCIM_BASE_PATH = '/scim/v2';

export const isScimPath = (pathname: string) => pathname === SCIM_BASE_PATH || pathname.startsWith(`${SCIM_BASE_PATH}/`);

export interface ScimHttpDeps {
  gate: KeyGate;
  /** per SCIM key: SCIM_RATE_LIMIT_PER_MINUTE */
  limiter: KeyRateLimiter;
  trustProxy: BlockList | null;
  log: Logger;
}

const CHALLENGE = { 'www-authenticate': 'Bearer realm="Keyplane SCIM"' };
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The key a request presents: `Authorization: Bearer kps_…` (Okta, Entra) or X-API-Key. null when
 * neither is sent; an Authorization of another scheme is presented as is (and fails as malformed).
 */
export function presentedKey(req: IncomingMessage): string | null {
  const authorization = req.headers.authorization;
  if (authorization !== undefined && authorization.trim() !== '') return BEARER.exec(authorization)?.[1] ?? authorization;
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header.trim() !== '' ? header : null;
}

function rateHeaders(rate: RateState): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(rate.limit),
    'X-RateLimit-Remaining': String(rate.remaining),
    'X-RateLimit-Reset': String(Math.ceil(rate.resetAt.getTime() / 1000)),
  };
}

export async function handleScim(deps: ScimHttpDeps, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
  try {
    const admitted = await admit(deps, req, res);
    if (admitted) route(admitted.headers, req, res, pathname);
  } catch (error) {
    if (res.headersSent) return;
    if (isDatabaseUnavailable(error)) {
      sendScimError(res, 503, UNAVAILABLE_MESSAGE, { headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } });
      return;
    }
    deps.log.error({ err: error }, 'SCIM request failed');
    sendScimError(res, 500, 'Internal error');
  }
}

/** The gate: the caller and the headers every later answer carries, or null once refused. */
async function admit(
  { gate, limiter, trustProxy }: ScimHttpDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<{ principal: Principal; headers: Record<string, string> } | null> {
  const address = clientAddressOfRequest(req, trustProxy);
  const key = presentedKey(req);
  if (key === null) {
    const blockedFor = await gate.blockedFor(address);
    if (blockedFor > 0) {
      sendScimError(res, 429, 'Too many failed authentications from this address', { headers: { 'Retry-After': String(blockedFor) } });
      return null;
    }
    await gate.missingKey(address);
    sendScimError(res, 401, "Missing SCIM API key: send it as 'Authorization: Bearer kps_…'", { headers: CHALLENGE });
    return null;
  }
  const outcome = await gate.authenticate(key, address, 'scim');
  if (!outcome.ok) {
    if ('retryAfterSeconds' in outcome) {
      sendScimError(res, 429, outcome.message, { headers: { 'Retry-After': String(outcome.retryAfterSeconds) } });
    } else {
      sendScimError(res, 401, outcome.message, { headers: CHALLENGE });
    }
    return null;
  }
  const { principal } = outcome;
  const rate = await limiter.consume(principal.keyId);
  const headers = rateHeaders(rate);
  if (!rate.allowed) {
    sendScimError(res, 429, `Rate limit of ${rate.limit} requests per ${limiter.windowSeconds} s exceeded for this SCIM key`, {
      headers: { ...headers, 'Retry-After': String(rate.retryAfterSeconds) },
    });
    return null;
  }
  // The team row as the verification cache holds it: a settings change drops it on this instance
  // when the mutation answers (SettingsService's teamChanged), and on the others with the Team
  // trigger's NOTIFY (as any key change). Reading it per request instead cost 27x the throughput
  // (bench/scim-gate.ts).
  const { team } = principal;
  if (team.plan !== 'ENTERPRISE') {
    sendScimError(res, 403, 'SCIM provisioning needs the ENTERPRISE plan', { headers });
    return null;
  }
  if (!team.scimEnabled) {
    sendScimError(res, 403, 'SCIM is turned off for this team: a team admin turns it on in the API key settings (scimEnabled)', {
      headers,
    });
    return null;
  }
  return { principal, headers };
}

function route(headers: Record<string, string>, req: IncomingMessage, res: ServerResponse, pathname: string): void {
  const resource = pathname.slice(SCIM_BASE_PATH.length).replace(/\/+$/, '');
  if (resource === '/ServiceProviderConfig') {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendScimError(res, 405, 'ServiceProviderConfig is read-only: GET it', { headers: { ...headers, allow: 'GET, HEAD' } });
      return;
    }
    sendScim(res, 200, serviceProviderConfig(), headers);
    return;
  }
  sendScimError(res, 404, `No such SCIM endpoint: ${pathname}`, { headers });
}
