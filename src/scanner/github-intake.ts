// POST /scanner/github: GitHub's secret-scanning partner program. GitHub posts the tokens it found
// ([{token, type, url, source}]) signed with ECDSA P-256 / SHA-256 over the raw body; the public
// keys come from GITHUB_SCANNING_PUBLIC_KEYS (no network is needed to verify). A body that is not
// signed by one of them is refused with 401 and nothing is recorded. The answer labels each
// token: true_positive for a live key of ours, false_positive otherwise.
import { hash, verify } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Services } from '../services.js';

export const GITHUB_INTAKE_PATH = '/scanner/github';
const MAX_BODY_BYTES = 1_000_000;
const MAX_TOKENS = 1_000;

const bodySchema = z
  .array(z.object({ token: z.string().max(200), type: z.string().max(200), url: z.string().max(2_000), source: z.string().max(100) }))
  .max(MAX_TOKENS);

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Whether `signature` (base64 DER) over `body` verifies with the key GitHub names. */
export function signedByGitHub(keys: Record<string, string> | undefined, keyId: string | undefined, signature: string | undefined, body: Buffer): boolean {
  const pem = keyId && keys && Object.hasOwn(keys, keyId) ? keys[keyId] : undefined;
  if (!pem || !signature) return false;
  try {
    return verify('sha256', body, { key: pem, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export async function handleGitHubIntake(services: Services, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') return answer(res, 405, { message: 'POST only' });
  const body = await readBody(req);
  if (body === null) return answer(res, 413, { message: `body over ${MAX_BODY_BYTES} bytes` });
  const keyId = req.headers['github-public-key-identifier'];
  const signature = req.headers['github-public-key-signature'];
  if (!signedByGitHub(services.config.githubScanningPublicKeys, String(keyId ?? '') || undefined, String(signature ?? '') || undefined, body)) {
    services.metrics.authFailures.inc({ reason: 'scanner_signature' });
    return answer(res, 401, { message: 'missing or invalid GitHub signature' });
  }
  let tokens: z.infer<typeof bodySchema>;
  try {
    tokens = bodySchema.parse(JSON.parse(body.toString('utf8')));
  } catch {
    return answer(res, 422, { message: `expected a JSON array of at most ${MAX_TOKENS} {token, type, url, source}` });
  }
  const { verdicts } = await services.scanner.report(
    tokens.map((t) => ({ token: t.token, location: t.url, source: `github:${t.source}` })),
  );
  answer(
    res,
    200,
    tokens.map((t, i) => ({
      token_hash: hash('sha256', t.token, 'hex'),
      token_type: t.type,
      label: verdicts[i]!.live ? 'true_positive' : 'false_positive',
    })),
  );
}
