// One webhook delivery over HTTP(S), with the URL policy applied where it counts: on the address the
// socket actually connects to. Host names are resolved by our own `lookup`, which refuses the whole
// request when any address is refused (DNS rebinding cannot swap in 127.0.0.1 after creation), and
// the socket connects only to the addresses it vetted; address literals never reach a lookup, so
// the URL is checked again here first. No redirects (a 3xx is returned as the status), one deadline
// for connect + headers + body, the body read up to a bound and dropped. Each request has its own
// socket (`agent: false`: no pooling across endpoints, and no process-wide proxy settings).
// Errors are WebhookRequestError with a short message an endpoint's admin may read (lastError):
// never a header value (the signature), never the address a name resolved to.
import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { addressRefusal, checkWebhookUrl } from './url-policy.js';

export const WEBHOOK_USER_AGENT = 'Keyplane-Webhooks/1';
export const WEBHOOK_TIMEOUT_MS = 15_000;
export const MAX_WEBHOOK_RESPONSE_BYTES = 64 * 1024;

/** All the addresses of a host name (tests inject one so that no test needs DNS). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

/** getaddrinfo, like Node's own lookup (hosts file included), every address in the system's order. */
export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export type WebhookFailure = 'refused' | 'dns' | 'connect' | 'timeout' | 'tls' | 'protocol';

export class WebhookRequestError extends Error {
  override readonly name = 'WebhookRequestError';
  constructor(
    readonly failure: WebhookFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface PostWebhookOptions {
  allowPrivateUrls: boolean;
  /** the whole exchange: connect, request, response headers and body */
  timeoutMs?: number;
  /** response bytes read (and dropped) before the connection is closed */
  maxResponseBytes?: number;
  resolve?: Resolver;
}

/**
 * POSTs `body` (JSON) to `url`; resolves with the response status whatever it is (2xx, 3xx not
 * followed, 4xx, 5xx), throws WebhookRequestError when there is no response.
 */
export function postWebhook(
  url: URL,
  body: string,
  headers: Record<string, string>,
  options: PostWebhookOptions,
): Promise<{ status: number }> {
  const {
    allowPrivateUrls,
    timeoutMs = WEBHOOK_TIMEOUT_MS,
    maxResponseBytes = MAX_WEBHOOK_RESPONSE_BYTES,
    resolve = systemResolver,
  } = options;
  const checked = checkWebhookUrl(url.href, { allowPrivateUrls });
  if (!checked.ok) return Promise.reject(new WebhookRequestError('refused', `refused: the URL ${checked.problem}`));
  const target = checked.url;
  const client = target.protocol === 'https:' ? https : http;

  return new Promise((done, fail) => {
    let settled = false;
    const deadline = setTimeout(
      () => finish(new WebhookRequestError('timeout', `no complete response within ${formatSeconds(timeoutMs)}`)),
      timeoutMs,
    );
    const finish = (outcome: { status: number } | WebhookRequestError) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      request.destroy();
      if (outcome instanceof WebhookRequestError) fail(outcome);
      else done(outcome);
    };

    const request = client.request(
      {
        protocol: target.protocol,
        hostname: target.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: target.port === '' ? undefined : Number(target.port),
        path: `${target.pathname}${target.search}`,
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'user-agent': WEBHOOK_USER_AGENT,
          'content-length': String(Buffer.byteLength(body)),
        },
        agent: false,
        lookup: guardedLookup(resolve, { allowPrivateUrls }),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxResponseBytes) finish({ status });
        });
        response.on('end', () => finish({ status }));
        response.on('error', (error) => finish(requestError(error)));
        response.on('close', () => {
          if (!response.complete) finish(new WebhookRequestError('connect', 'the connection closed before the response ended'));
        });
      },
    );
    request.on('error', (error) => finish(requestError(error)));
    request.end(body);
  });
}

/**
 * A `lookup` for node:net that resolves with `resolve`, refuses when any address is refused by the
 * policy, and answers in both of Node's shapes: an array when `options.all` (autoSelectFamily, the
 * default since Node 20), else one address and its family.
 */
export function guardedLookup(resolve: Resolver, policy: { allowPrivateUrls: boolean }): LookupFunction {
  const vetted = async (hostname: string, family: number): Promise<LookupAddress[]> => {
    let found: LookupAddress[];
    try {
      found = await resolve(hostname);
    } catch (error) {
      throw requestError(error);
    }
    for (const { address } of found) {
      const refusal = addressRefusal(address, policy);
      if (refusal) throw new WebhookRequestError('refused', `refused: ${hostname} resolves to ${refusal}`);
    }
    const usable = family === 4 || family === 6 ? found.filter((a) => a.family === family) : found;
    if (usable.length === 0) throw new WebhookRequestError('dns', `${hostname} has no address`);
    return usable;
  };

  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family ?? 0);
    vetted(hostname, family).then(
      (addresses) => {
        const [first] = addresses; // vetted() never answers an empty list
        if (options.all) callback(null, addresses);
        else if (first) callback(null, first.address, first.family);
      },
      (error: WebhookRequestError) => callback(error as NodeJS.ErrnoException, options.all ? [] : '', 0),
    );
  };
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|EPROTO$|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_)/;

/** Our words for Node's error: the code only (messages may carry the connected address). */
function requestError(error: unknown): WebhookRequestError {
  if (error instanceof WebhookRequestError) return error;
  const code = codeOf(error);
  if (TLS_CODES.test(code)) return new WebhookRequestError('tls', `TLS failed (${code})`);
  if (code.startsWith('HPE_')) return new WebhookRequestError('protocol', `invalid HTTP response (${code})`);
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NODATA':
    case 'EAI_NONAME':
      return new WebhookRequestError('dns', `host not found (${code})`);
    case 'ECONNREFUSED':
      return new WebhookRequestError('connect', 'connection refused');
    case 'ECONNRESET':
    case 'EPIPE':
      return new WebhookRequestError('connect', 'connection reset');
    default:
      return new WebhookRequestError('connect', `could not connect (${code})`);
  }
}

function codeOf(error: unknown): string {
  // autoSelectFamily reports the failure of every address it tried as one AggregateError
  const first = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  const code = (first as NodeJS.ErrnoException | null)?.code ?? (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? code : 'UNKNOWN';
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
