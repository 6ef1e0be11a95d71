// /scanner/gitlab: GitLab secret detection's Token Revocation API (its `token_revocation_api`
// contract). GitLab first asks `GET …/revocable_token_types`, keeps the findings of those types,
// and posts them to `POST …/revoke_tokens` as [{type, token, location}], both times with the
// pre-shared token (GITLAB_REVOCATION_TOKEN) in `Authorization`, raw (as GitLab sends it) or after
// `Bearer `. Unset, every request is 401. Each Keyplane key found goes through the exposure /
// auto-revoke path the GitHub intake uses (source `gitlab`, the location recorded); a token that
// is not a live key of ours (unknown, mistyped, revoked already, reported again) is accepted
// and changes nothing, so GitLab may retry freely (the contract asks for idempotence). Answers:
// 204 accepted; 400 not the expected array (unknown type, NUL, unpaired surrogate, over 1,000
// tokens); 401 wrong or missing token (nothing recorded); 405 wrong method; 413 over 1 MB; 429
// past 60 reports a minute from one client address, or, for wrong tokens, past
// AUTH_FAILURES_PER_MINUTE failed authentications of the address.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import { z } from 'zod';
import { scannerActor } from '../audit/actor.js';
import { clientAddressOfRequest } from '../auth/client-address.js';
import type { Metrics } from '../observability/metrics.js';
import { type AuthFailureLimiter, tooManyFailuresMessage } from '../ratelimit/address-limiter.js';
import type { KeyRateLimiter } from '../ratelimit/key-limiter.js';
import { answerJson, readBoundedBody, unsafeStringIn } from './http-body.js';
import type { ScannerService } from './service.js';

export const GITLAB_INTAKE_PATH = '/scanner/gitlab';
const TYPES_PATH = `${GITLAB_INTAKE_PATH}/revocable_token_types`;
const REVOKE_PATH = `${GITLAB_INTAKE_PATH}/revoke_tokens`;

/**
 * GitLab names a finding's type after the analyzer's rule: `gitleaks_rule_id_` + the rule id of
 * the custom gitleaks rules for Keyplane's three key kinds.
 */
export const GITLAB_TOKEN_TYPES = [
  'gitleaks_rule_id_keyplane_api_key',
  'gitleaks_rule_id_keyplane_collection_access_key',
  'gitleaks_rule_id_keyplane_scim_api_key',
] as const;

/** Reports (POST revoke_tokens) per client address per minute (SPEC §5). */
export const GITLAB_REPORTS_PER_MINUTE = 60;
const MAX_BODY_BYTES = 1_000_000;
const MAX_TOKENS = 1_000;

// The type must be one of ours, but the token's own prefix says which kind of key it is (the
// lookup is by hash): a kpc_ key reported as keyplane_api_key is still that collection access key,
// revoked as such. A rule that matched the wrong kind is GitLab's configuration slip, and
// refusing the report for it would leave a leaked key live.
const bodySchema = z
  .array(
    z.object({
      type: z.enum(GITLAB_TOKEN_TYPES, { error: `unknown type (one of ${GITLAB_TOKEN_TYPES.join(', ')})` }),
      token: z.string().max(200),
      location: z.string().max(2_000),
    }),
  )
  .max(MAX_TOKENS, `at most ${MAX_TOKENS} tokens per request`);

export const isGitLabIntakePath = (pathname: string) => pathname === GITLAB_INTAKE_PATH || pathname.startsWith(`${GITLAB_INTAKE_PATH}/`);

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Whether `Authorization` carries the pre-shared token (raw, or after the Bearer scheme), compared
 * in constant time: both are hashed first, so neither their contents nor their lengths leak.
 */
export function presentsRevocationToken(expected: string | undefined, authorization: string | undefined): boolean {
  if (!expected || !authorization) return false;
  const presented = authorization.replace(/^bearer\s+/i, '');
  return timingSafeEqual(digest(presented), digest(expected));
}

export interface GitLabIntakeDeps {
  scanner: ScannerService;
  metrics: Metrics;
  /** GITLAB_REVOCATION_TOKEN; unset = every request is 401 */
  token?: string;
  /** reports per client address (GITLAB_REPORTS_PER_MINUTE), counted once the token is right */
  limiter: KeyRateLimiter;
  /** wrong tokens per client address (AUTH_FAILURES_PER_MINUTE, with the keys' failures) */
  failures: AuthFailureLimiter;
  /** TRUST_PROXY, for the client address that is limited and named in audit events */
  trustProxy: BlockList | null;
}

function refused(metrics: Metrics, res: ServerResponse) {
  metrics.authFailures.inc({ reason: 'scanner_token' });
  answerJson(res, 401, { message: 'missing or invalid token in Authorization' });
}

function methodNotAllowed(res: ServerResponse, allowed: 'GET' | 'POST') {
  answerJson(res, 405, { message: `${allowed} only` }, { allow: allowed });
}

export async function handleGitLabIntake(
  deps: GitLabIntakeDeps,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): Promise<void> {
  const { scanner, metrics, token, limiter, failures, trustProxy } = deps;
  const clientAddress = clientAddressOfRequest(req, trustProxy);
  // A wrong token is a failed authentication of the address, on both endpoints, counted with
  // the keys' failures: past AUTH_FAILURES_PER_MINUTE its wrong tokens get 429. The right token
  // is never held by others' guesses from the same address (a shared proxy or NAT), as a valid
  // key is not: it only counts against the reports' own limit.
  const refuseWrongToken = async (): Promise<boolean> => {
    if (presentsRevocationToken(token, req.headers.authorization)) return false;
    const wait = await failures.blockedFor(clientAddress);
    if (wait > 0) {
      answerJson(res, 429, { message: tooManyFailuresMessage(wait) }, { 'retry-after': String(wait) });
    } else {
      await failures.recordFailure(clientAddress);
      refused(metrics, res);
    }
    return true;
  };
  if (pathname === TYPES_PATH) {
    // A constant answer, no database: not counted against the reports' limit (GitLab asks it
    // before each report).
    if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
    if (await refuseWrongToken()) return;
    return answerJson(res, 200, { types: GITLAB_TOKEN_TYPES });
  }
  if (pathname !== REVOKE_PATH) return answerJson(res, 404, { message: `no such endpoint: ${TYPES_PATH} or ${REVOKE_PATH}` });
  if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
  if (await refuseWrongToken()) return;
  const rate = await limiter.consume(clientAddress);
  if (!rate.allowed) {
    return answerJson(
      res,
      429,
      { message: `more than ${rate.limit} reports a minute from this address: retry in ${rate.retryAfterSeconds} s` },
      { 'retry-after': String(rate.retryAfterSeconds) },
    );
  }
  const body = await readBoundedBody(req, res, MAX_BODY_BYTES);
  if (!body) return;
  // Anything but the expected shape is the client's fault: 400 with a JSON error, never a 500.
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return answerJson(res, 400, { message: 'expected a JSON array of {type, token, location}' });
  }
  const parsed = bodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    return answerJson(res, 400, { message: `${where}${issue.message} (expected a JSON array of {type, token, location})` });
  }
  const tokens = parsed.data;
  const problem = unsafeStringIn(tokens, ['type', 'token', 'location']);
  if (problem) return answerJson(res, 400, { message: problem });
  await scanner.report(
    tokens.map((t) => ({ token: t.token, location: t.location, source: 'gitlab' })),
    undefined,
    scannerActor({ clientAddress, userAgent: req.headers['user-agent'] ?? null }),
  );
  res.writeHead(204).end();
}
