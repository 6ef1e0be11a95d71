// POST /scanner/github: GitHub's secret-scanning partner program. GitHub posts the tokens it found
// ([{token, type, url, source}]) signed with ECDSA P-256 / SHA-256 over the raw body; the public
// keys come from GITHUB_SCANNING_PUBLIC_KEYS (no network is needed to verify). A body that is not
// signed by one of them is refused with 401 and nothing is recorded. The answer labels each
// token: true_positive for a live key of ours, false_positive otherwise. A body over 1 MB is 413
// (read to its end first, so the client sees it); one that is not the expected array of clean
// strings (no NUL, no unpaired surrogate) is 400.
import { hash, verify } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlockList } from 'node:net';
import { z } from 'zod';
import { scannerActor } from '../audit/actor.js';
import { clientAddressOfRequest } from '../auth/client-address.js';
import type { Metrics } from '../observability/metrics.js';
import { answerJson, readBoundedBody, unsafeStringIn } from './http-body.js';
import type { ScannerService } from './service.js';

export const GITHUB_INTAKE_PATH = '/scanner/github';
const MAX_BODY_BYTES = 1_000_000;
const MAX_TOKENS = 1_000;

const bodySchema = z
  .array(z.object({ token: z.string().max(200), type: z.string().max(200), url: z.string().max(2_000), source: z.string().max(100) }))
  .max(MAX_TOKENS);

/** Whether `signature` (base64 DER) over `body` verifies with the key GitHub names. */
export function signedByGitHub(
  keys: Record<string, string> | undefined,
  keyId: string | undefined,
  signature: string | undefined,
  body: Buffer,
): boolean {
  const pem = keyId && keys && Object.hasOwn(keys, keyId) ? keys[keyId] : undefined;
  if (!pem || !signature) return false;
  try {
    return verify('sha256', body, { key: pem, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export interface GitHubIntakeDeps {
  scanner: ScannerService;
  metrics: Metrics;
  /** GITHUB_SCANNING_PUBLIC_KEYS: key identifier → PEM */
  publicKeys?: Record<string, string>;
  /** TRUST_PROXY, for the client address the audit events name */
  trustProxy: BlockList | null;
}

export async function handleGitHubIntake(
  { scanner, metrics, publicKeys, trustProxy }: GitHubIntakeDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'POST') return answerJson(res, 405, { message: 'POST only' });
  const body = await readBoundedBody(req, res, MAX_BODY_BYTES);
  if (!body) return;
  const keyId = req.headers['github-public-key-identifier'];
  const signature = req.headers['github-public-key-signature'];
  if (!signedByGitHub(publicKeys, String(keyId ?? '') || undefined, String(signature ?? '') || undefined, body)) {
    metrics.authFailures.inc({ reason: 'scanner_signature' });
    return answerJson(res, 401, { message: 'missing or invalid GitHub signature' });
  }
  // Anything but the expected shape is the client's fault: 400 with a JSON error, never a 500.
  let tokens: z.infer<typeof bodySchema>;
  try {
    tokens = bodySchema.parse(JSON.parse(body.toString('utf8')));
  } catch {
    return answerJson(res, 400, { message: `expected a JSON array of at most ${MAX_TOKENS} {token, type, url, source}` });
  }
  const problem = unsafeStringIn(tokens, ['token', 'type', 'url', 'source']);
  if (problem) return answerJson(res, 400, { message: problem });
  const { verdicts } = await scanner.report(
    tokens.map((t) => ({ token: t.token, location: t.url, source: `github:${t.source}` })),
    undefined,
    scannerActor({ clientAddress: clientAddressOfRequest(req, trustProxy), userAgent: req.headers['user-agent'] ?? null }),
  );
  answerJson(
    res,
    200,
    tokens.map((t, i) => ({
      token_hash: hash('sha256', t.token, 'hex'),
      token_type: t.type,
      label: verdicts[i]!.live ? 'true_positive' : 'false_positive',
    })),
  );
}
