// /scim/v2: the identity provider's endpoint (SPEC §5). Its gate, in SPEC §4's order:
// authentication with a SCIM key only (401; 429 once the address has used up its failed
// authentications, exactly as on /graphql), the SCIM key's own rate limit (429), then the team:
// a FREE team or one with scimEnabled off gets 403. Every answer is application/scim+json, errors
// per RFC 7644 §3.12. Behind the gate: discovery (ServiceProviderConfig, ResourceTypes, Schemas) and
// the Users (users.ts) and Groups (groups.ts) resources; request bodies are application/scim+json or application/json.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import type { Logger } from 'pino';
import { type AuditActor, actorOfPrincipal } from '../audit/actor.js';
import { clientAddressOfRequest } from '../auth/client-address.js';
import type { KeyGate } from '../auth/gate.js';
import type { Principal } from '../auth/principal.js';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE } from '../db/outage.js';
import type { KeyRateLimiter, RateState } from '../ratelimit/key-limiter.js';
import { groupResourceType, groupSchema, listOf, serviceProviderConfig, userResourceType, userSchema } from './discovery.js';
import { GROUP_SCHEMA, type ScimGroupService, scimGroup } from './groups.js';
import { projection } from './projection.js';
import { ScimError, sendScim, sendScimError } from './responses.js';
import { LIST_RESPONSE_SCHEMA, type ScimUserService, scimUser, USER_SCHEMA } from './users.js';

export const SCIM_BASE_PATH = '/scim/v2';

export const isScimPath = (pathname: string) => pathname === SCIM_BASE_PATH || pathname.startsWith(`${SCIM_BASE_PATH}/`);

export interface ScimHttpDeps {
  gate: KeyGate;
  /** per SCIM key: SCIM_RATE_LIMIT_PER_MINUTE */
  limiter: KeyRateLimiter;
  trustProxy: BlockList | null;
  log: Logger;
  users: ScimUserService;
  groups: ScimGroupService;
  /** PUBLIC_URL when configured: the base of meta.location (else the request's own origin) */
  publicUrl?: string;
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
    if (admitted) await route(deps, admitted, req, res, pathname);
  } catch (error) {
    if (res.headersSent) return;
    if (error instanceof ScimError) {
      sendScimError(res, error.status, error.message, { scimType: error.scimType });
      return;
    }
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

interface Admitted {
  principal: Principal;
  headers: Record<string, string>;
}

const MAX_BODY_BYTES = 1 << 20;
const JSON_TYPES = /^application\/(scim\+)?json\s*(;|$)/i;

/** The request's JSON body (application/scim+json or application/json, at most 1 MiB). */
async function bodyOf(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type !== undefined && !JSON_TYPES.test(type)) {
    throw new ScimError(415, 'Send the body as application/scim+json (or application/json)', 'invalidSyntax');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ScimError(413, `The body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ScimError(400, 'The body is not JSON', 'invalidSyntax');
  }
}

/** The absolute /scim/v2 URL: PUBLIC_URL's, else the origin the request was sent to. */
function baseUrl(deps: ScimHttpDeps, req: IncomingMessage): string {
  if (deps.publicUrl) return `${deps.publicUrl.replace(/\/+$/, '')}${SCIM_BASE_PATH}`;
  const encrypted = 'encrypted' in req.socket && req.socket.encrypted === true;
  return `${encrypted ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}${SCIM_BASE_PATH}`;
}

/** A whole number query parameter, or undefined when absent. */
function integerParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^-?\d{1,9}$/.test(raw)) throw new ScimError(400, `${name} must be an integer`, 'invalidValue');
  return Number(raw);
}

function methodNotAllowed(res: ServerResponse, headers: Record<string, string>, what: string, allow: string): void {
  sendScimError(res, 405, `${what} answers ${allow}`, { headers: { ...headers, allow } });
}

async function route(deps: ScimHttpDeps, { principal, headers }: Admitted, req: IncomingMessage, res: ServerResponse, pathname: string) {
  const resource = pathname.slice(SCIM_BASE_PATH.length).replace(/\/+$/, '');
  const base = baseUrl(deps, req);
  const send = (status: number, body: unknown) => sendScim(res, status, body, headers);
  const read = req.method === 'GET' || req.method === 'HEAD';
  try {
    if (resource === '/ServiceProviderConfig') {
      if (!read) return methodNotAllowed(res, headers, 'ServiceProviderConfig', 'GET, HEAD');
      return send(200, serviceProviderConfig(base));
    }
    const discovered: Record<string, () => unknown> = {
      '/ResourceTypes': () => listOf([userResourceType(base), groupResourceType(base)]),
      '/ResourceTypes/User': () => userResourceType(base),
      '/ResourceTypes/Group': () => groupResourceType(base),
      '/Schemas': () => listOf([userSchema(base), groupSchema(base)]),
      [`/Schemas/${USER_SCHEMA}`]: () => userSchema(base),
      [`/Schemas/${GROUP_SCHEMA}`]: () => groupSchema(base),
    };
    const discovery = Object.hasOwn(discovered, resource) ? discovered[resource] : undefined;
    if (discovery) {
      if (!read) return methodNotAllowed(res, headers, resource.startsWith('/Schemas') ? 'Schemas' : 'ResourceTypes', 'GET, HEAD');
      return send(200, discovery());
    }
    if (resource === '/Users') return await collection(userRoutes(deps), deps, principal, req, base, send, res, headers);
    const id = /^\/Users\/([^/]+)$/.exec(resource)?.[1];
    if (id !== undefined) return await member(userRoutes(deps), deps, principal, req, idOf(id), base, send, res, headers);
    if (resource === '/Groups') return await collection(groupRoutes(deps), deps, principal, req, base, send, res, headers);
    const groupId = /^\/Groups\/([^/]+)$/.exec(resource)?.[1];
    if (groupId !== undefined) return await member(groupRoutes(deps), deps, principal, req, idOf(groupId), base, send, res, headers);
  } catch (error) {
    if (!(error instanceof ScimError)) throw error;
    return sendScimError(res, error.status, error.message, { scimType: error.scimType, headers });
  }
  sendScimError(res, 404, `No such SCIM endpoint: ${pathname}`, { headers });
}

/** A path segment decoded; a malformed escape is an id no member has. */
function idOf(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

type Send = (status: number, body: unknown) => void;
const originOf = (req: IncomingMessage, deps: ScimHttpDeps) => ({
  clientAddress: clientAddressOfRequest(req, deps.trustProxy),
  userAgent: req.headers['user-agent'] ?? null,
});

/** What the routes need of a SCIM resource type (Users, Groups): its service and representation. */
interface ResourceRoutes<R> {
  /** "User" or "Group", for the 405 messages */
  name: string;
  schema: string;
  list(
    p: Principal,
    query: { filter: string | null; startIndex?: number; count?: number },
  ): Promise<{ totalResults: number; startIndex: number; items: R[] }>;
  get(p: Principal, id: string): Promise<R>;
  create(p: Principal, actor: AuditActor, body: unknown): Promise<R>;
  replace(p: Principal, actor: AuditActor, id: string, body: unknown): Promise<R>;
  patch(p: Principal, actor: AuditActor, id: string, body: unknown): Promise<R>;
  delete(p: Principal, actor: AuditActor, id: string): Promise<void>;
  represent(resource: R, base: string): Record<string, unknown> & { meta: { location: string } };
}

const userRoutes = (deps: ScimHttpDeps): ResourceRoutes<Awaited<ReturnType<ScimUserService['get']>>> => ({
  name: 'User',
  schema: USER_SCHEMA,
  list: async (p, query) => {
    const page = await deps.users.list(p, query);
    return { totalResults: page.totalResults, startIndex: page.startIndex, items: page.users };
  },
  get: (p, id) => deps.users.get(p, id),
  create: (p, actor, body) => deps.users.create(p, actor, body),
  replace: (p, actor, id, body) => deps.users.replace(p, actor, id, body),
  patch: (p, actor, id, body) => deps.users.patch(p, actor, id, body),
  delete: (p, actor, id) => deps.users.delete(p, actor, id),
  represent: scimUser,
});

const groupRoutes = (deps: ScimHttpDeps): ResourceRoutes<Awaited<ReturnType<ScimGroupService['get']>>> => ({
  name: 'Group',
  schema: GROUP_SCHEMA,
  list: async (p, query) => {
    const page = await deps.groups.list(p, query);
    return { totalResults: page.totalResults, startIndex: page.startIndex, items: page.groups };
  },
  get: (p, id) => deps.groups.get(p, id),
  create: (p, actor, body) => deps.groups.create(p, actor, body),
  replace: (p, actor, id, body) => deps.groups.replace(p, actor, id, body),
  patch: (p, actor, id, body) => deps.groups.patch(p, actor, id, body),
  delete: (p, actor, id) => deps.groups.delete(p, actor, id),
  represent: scimGroup,
});

/** /Users, /Groups: list (GET with filter, startIndex, count) and create (POST). */
async function collection<R>(
  routes: ResourceRoutes<R>,
  deps: ScimHttpDeps,
  principal: Principal,
  req: IncomingMessage,
  base: string,
  send: Send,
  res: ServerResponse,
  headers: Record<string, string>,
) {
  const params = new URL(req.url ?? '/', 'http://x').searchParams;
  const project = projection(params.get('attributes'), params.get('excludedAttributes'), routes.schema);
  if (req.method === 'GET' || req.method === 'HEAD') {
    const page = await routes.list(principal, {
      filter: params.get('filter'),
      startIndex: integerParam(params, 'startIndex'),
      count: integerParam(params, 'count'),
    });
    return send(200, {
      schemas: [LIST_RESPONSE_SCHEMA],
      totalResults: page.totalResults,
      itemsPerPage: page.items.length,
      startIndex: page.startIndex,
      Resources: page.items.map((item) => project(routes.represent(item, base))),
    });
  }
  if (req.method === 'POST') {
    const created = await routes.create(principal, actorOfPrincipal(principal, originOf(req, deps)), await bodyOf(req));
    const representation = routes.represent(created, base);
    return sendScim(res, 201, project(representation), { ...headers, location: representation.meta.location });
  }
  methodNotAllowed(res, headers, `${routes.name}s`, 'GET, HEAD, POST');
}

/** /Users/{id}, /Groups/{id}: read, replace, patch, delete. */
async function member<R>(
  routes: ResourceRoutes<R>,
  deps: ScimHttpDeps,
  principal: Principal,
  req: IncomingMessage,
  id: string,
  base: string,
  send: Send,
  res: ServerResponse,
  headers: Record<string, string>,
) {
  const actor = () => actorOfPrincipal(principal, originOf(req, deps));
  const params = new URL(req.url ?? '/', 'http://x').searchParams;
  const project = projection(params.get('attributes'), params.get('excludedAttributes'), routes.schema);
  switch (req.method) {
    case 'GET':
    case 'HEAD':
      return send(200, project(routes.represent(await routes.get(principal, id), base)));
    case 'PUT':
      return send(200, project(routes.represent(await routes.replace(principal, actor(), id, await bodyOf(req)), base)));
    case 'PATCH':
      return send(200, project(routes.represent(await routes.patch(principal, actor(), id, await bodyOf(req)), base)));
    case 'DELETE':
      await routes.delete(principal, actor(), id);
      res.writeHead(204, { 'cache-control': 'no-store', ...headers }).end();
      return;
    default:
      methodNotAllowed(res, headers, `A ${routes.name}`, 'GET, HEAD, PUT, PATCH, DELETE');
  }
}
