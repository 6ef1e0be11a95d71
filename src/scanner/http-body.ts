// What the scanner intakes (GitHub's and GitLab's) share on the HTTP side: a bounded body whose
// refusal the client still sees, JSON answers, and the check of the strings a body carries.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stringProblem } from '../domain/input.js';

type Body = { ok: true; body: Buffer } | { ok: false; reason: 'too large' | 'aborted' };

/** How many times its limit an oversized body is read and discarded so that the client sees the 413. */
const DRAIN_FACTOR = 32;

/**
 * The body, or why there is none. Past `maxBytes` the rest is read and thrown away (up to
 * DRAIN_FACTOR times the limit), so that the 413 is answered on a connection the client still
 * reads: closing it while the client is still sending resets it and the client never sees the answer.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const declared = Number(req.headers['content-length']);
    let over = Number.isFinite(declared) && declared > maxBytes;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) over = true;
      if (!over) chunks.push(chunk);
      else if (size > DRAIN_FACTOR * maxBytes) {
        // Past what is worth draining: answer, then close the connection.
        resolve({ ok: false, reason: 'too large' });
        req.pause();
      }
    });
    req.on('end', () => resolve(over ? { ok: false, reason: 'too large' } : { ok: true, body: Buffer.concat(chunks) }));
    req.on('error', () => resolve({ ok: false, reason: 'aborted' }));
    req.on('aborted', () => resolve({ ok: false, reason: 'aborted' }));
  });
}

export function answerJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * The request's body, at most `maxBytes`; otherwise undefined, the request being answered already
 * (413, JSON) or its connection gone.
 */
export async function readBoundedBody(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<Buffer | undefined> {
  const read = await readBody(req, maxBytes);
  if (read.ok) return read.body;
  if (read.reason === 'aborted') {
    res.destroy();
    return undefined;
  }
  res.setHeader('connection', 'close');
  answerJson(res, 413, { message: `body over ${maxBytes} bytes` });
  return undefined;
}

/** The first of `fields` in `items` that holds NUL or an unpaired surrogate, as "index.field: problem". */
export function unsafeStringIn<F extends string>(items: readonly Record<F, string>[], fields: readonly F[]): string | null {
  for (const [i, item] of items.entries()) {
    for (const field of fields) {
      const problem = stringProblem(item[field]);
      if (problem) return `${i}.${field}: ${problem}`;
    }
  }
  return null;
}
