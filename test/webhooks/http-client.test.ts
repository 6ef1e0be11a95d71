// postWebhook against real receivers on 127.0.0.1 only. Refused targets never reach a socket: the URL
// policy or the lookup refuses them first (a loopback receiver counts connections to prove it, and
// the addresses a test resolver hands out put 127.0.0.1 first, so a broken check would hit our own
// receiver and never a metadata or public address).
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { guardedLookup, postWebhook, type Resolver, WebhookRequestError } from '../../src/webhooks/http-client.js';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Answer = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function receiver(answer: Answer = (_req, res) => res.writeHead(204).end()) {
  const requests: Received[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
      answer(req, res);
    });
  });
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, requests, connections: () => connections };
}

/** A resolver that answers `addresses` for every name and remembers what it was asked. */
function resolverOf(...addresses: string[]): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    asked.push(hostname);
    return addresses.map((address) => ({ address, family: net.isIP(address) }));
  };
  return Object.assign(resolve, { asked });
}

const SIGNATURE = 'v1,c2VjcmV0LXNpZ25hdHVyZS1uZXZlci1pbi1lcnJvcnM=';
const HEADERS = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': SIGNATURE };
const BODY = JSON.stringify({ type: 'webhook.test', timestamp: '2026-11-28T00:00:00.000Z', data: { ok: true } });
const strict = { allowPrivateUrls: false };
const lenient = { allowPrivateUrls: true };

async function refusal(promise: Promise<unknown>): Promise<WebhookRequestError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a WebhookRequestError');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WebhookRequestError);
  const failure = error as WebhookRequestError;
  expect(failure.message).not.toContain(SIGNATURE);
  return failure;
}

/** Lets a connection that was (wrongly) started reach the receiver before we count. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

describe('postWebhook with WEBHOOK_ALLOW_PRIVATE_URLS on', () => {
  it('delivers to a receiver on 127.0.0.1: the body as sent, JSON, our user agent and the signature headers', async () => {
    const hook = await receiver((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks'));
    const result = await postWebhook(new URL(`http://127.0.0.1:${hook.port}/hooks/keyplane?team=7`), BODY, HEADERS, lenient);
    expect(result).toEqual({ status: 200 });
    expect(hook.requests).toHaveLength(1);
    const [received] = hook.requests;
    expect(received).toMatchObject({ method: 'POST', url: '/hooks/keyplane?team=7', body: BODY });
    expect(received!.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Keyplane-Webhooks/1',
      'content-length': String(Buffer.byteLength(BODY)),
      'webhook-id': 'msg_1',
      'webhook-timestamp': '1700000000',
      'webhook-signature': SIGNATURE,
      host: `127.0.0.1:${hook.port}`,
      connection: 'close',
    });
  });

  it('returns any status as it is: 500 is an answer, not an error', async () => {
    const hook = await receiver((_req, res) => res.writeHead(500).end('boom'));
    expect(await postWebhook(new URL(`http://127.0.0.1:${hook.port}/`), BODY, HEADERS, lenient)).toEqual({ status: 500 });
  });

  it('connects a host name to the address its resolver vetted, with the name in Host', async () => {
    const hook = await receiver();
    const resolve = resolverOf('127.0.0.1');
    const result = await postWebhook(new URL(`http://receiver.test:${hook.port}/in`), BODY, HEADERS, { ...lenient, resolve });
    expect(result).toEqual({ status: 204 });
    expect(resolve.asked).toEqual(['receiver.test']);
    expect(hook.requests[0]!.headers.host).toBe(`receiver.test:${hook.port}`);
  });

  it('works with both lookup shapes: all addresses (autoSelectFamily, the default) and one', async () => {
    const hook = await receiver();
    const resolve = resolverOf('127.0.0.1');
    const url = new URL(`http://receiver.test:${hook.port}/`);
    const before = net.getDefaultAutoSelectFamily();
    try {
      net.setDefaultAutoSelectFamily(false);
      expect(await postWebhook(url, BODY, HEADERS, { ...lenient, resolve })).toEqual({ status: 204 });
      net.setDefaultAutoSelectFamily(true);
      expect(await postWebhook(url, BODY, HEADERS, { ...lenient, resolve })).toEqual({ status: 204 });
    } finally {
      net.setDefaultAutoSelectFamily(before);
    }
    expect(hook.requests).toHaveLength(2);
  });

  it('does not follow a redirect: 302 is the answer', async () => {
    const hook = await receiver((_req, res) => res.writeHead(302, { location: '/elsewhere' }).end());
    expect(await postWebhook(new URL(`http://127.0.0.1:${hook.port}/hook`), BODY, HEADERS, lenient)).toEqual({ status: 302 });
    await settle();
    expect(hook.requests.map((r) => r.url)).toEqual(['/hook']);
  });

  it('still refuses cloud metadata and link-local addresses, by URL and by resolution, before any connection', async () => {
    const resolve = resolverOf('127.0.0.1');
    const byUrl = await refusal(postWebhook(new URL('http://169.254.169.254/latest/meta-data/'), BODY, HEADERS, { ...lenient, resolve }));
    expect(byUrl).toMatchObject({ failure: 'refused', message: 'refused: the URL must not point to a cloud metadata address' });
    expect(resolve.asked).toEqual([]);

    const hook = await receiver();
    // one bad address among good ones is enough to refuse
    const mixed = resolverOf('127.0.0.1', '169.254.169.254');
    const byName = await refusal(postWebhook(new URL(`http://receiver.test:${hook.port}/`), BODY, HEADERS, { ...lenient, resolve: mixed }));
    expect(byName).toMatchObject({ failure: 'refused', message: 'refused: receiver.test resolves to a cloud metadata address' });
    const linkLocal = resolverOf('127.0.0.1', 'fe80::1');
    const byV6 = await refusal(
      postWebhook(new URL(`http://receiver.test:${hook.port}/`), BODY, HEADERS, { ...lenient, resolve: linkLocal }),
    );
    expect(byV6.message).toBe('refused: receiver.test resolves to a link-local address');
    await settle();
    expect(hook.connections()).toBe(0);
  });

  it('gives up after timeoutMs on a receiver that never answers', async () => {
    const hook = await receiver(() => {});
    const started = performance.now();
    const error = await refusal(postWebhook(new URL(`http://127.0.0.1:${hook.port}/`), BODY, HEADERS, { ...lenient, timeoutMs: 300 }));
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ failure: 'timeout', message: 'no complete response within 0.3 s' });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2000);
    expect(hook.requests).toHaveLength(1);
  });

  it('counts the body in the deadline: headers then silence is a timeout too', async () => {
    const hook = await receiver((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    const error = await refusal(postWebhook(new URL(`http://127.0.0.1:${hook.port}/`), BODY, HEADERS, { ...lenient, timeoutMs: 300 }));
    expect(error.failure).toBe('timeout');
  });

  it('reads at most maxResponseBytes of an endless body, then hangs up', async () => {
    let closed = false;
    const hook = await receiver((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.on('close', () => {
        closed = true;
      });
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const pump = () => {
        while (!closed && res.write(chunk)) {}
        if (!closed) res.once('drain', pump);
      };
      pump();
    });
    const started = performance.now();
    const result = await postWebhook(new URL(`http://127.0.0.1:${hook.port}/`), BODY, HEADERS, {
      ...lenient,
      timeoutMs: 5000,
      maxResponseBytes: 64 * 1024,
    });
    expect(result).toEqual({ status: 200 });
    expect(performance.now() - started).toBeLessThan(2000);
    await settle();
    expect(closed).toBe(true);
  });

  it('reports a refused connection and a TLS failure in words of its own', async () => {
    const spare = net.createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const freePort = (spare.address() as AddressInfo).port;
    await new Promise((resolve) => spare.close(resolve));
    const refused = await refusal(postWebhook(new URL(`http://127.0.0.1:${freePort}/`), BODY, HEADERS, lenient));
    expect(refused).toMatchObject({ failure: 'connect', message: 'connection refused' });

    // https to a plain-HTTP receiver: the handshake fails
    const hook = await receiver();
    const tls = await refusal(postWebhook(new URL(`https://127.0.0.1:${hook.port}/`), BODY, HEADERS, lenient));
    expect(tls.failure).toBe('tls');
    expect(tls.message).toMatch(/^TLS failed \([A-Z0-9_]+\)$/);
    expect(tls.message).not.toContain('127.0.0.1');
  });
});

describe('postWebhook with WEBHOOK_ALLOW_PRIVATE_URLS off', () => {
  const URL_LOOPBACK = 'refused: the URL must not point to a loopback address (private addresses need WEBHOOK_ALLOW_PRIVATE_URLS)';
  it.each([
    ['https://127.0.0.1:PORT/', URL_LOOPBACK],
    ['https://[::1]:PORT/', URL_LOOPBACK],
    ['https://2130706433:PORT/', URL_LOOPBACK],
    ['https://localhost:PORT/', URL_LOOPBACK],
    ['http://127.0.0.1:PORT/', 'refused: the URL must be an https URL'],
  ])('refuses %s before resolving or connecting', async (text, message) => {
    const hook = await receiver();
    const resolve = resolverOf('127.0.0.1');
    const error = await refusal(postWebhook(new URL(text.replace('PORT', String(hook.port))), BODY, HEADERS, { ...strict, resolve }));
    expect(error).toMatchObject({ failure: 'refused', message });
    expect(resolve.asked).toEqual([]);
    await settle();
    expect(hook.connections()).toBe(0);
  });

  it.each([['127.0.0.1'], ['::1'], ['::ffff:127.0.0.1'], ['10.0.0.1'], ['169.254.169.254']])(
    'refuses a host name that resolves to %s at connect time, with no connection made',
    async (address) => {
      const hook = await receiver();
      // 127.0.0.1 first: a check that let this through would connect to our own receiver
      const resolve = resolverOf('127.0.0.1', address);
      const error = await refusal(postWebhook(new URL(`https://rebound.example:${hook.port}/hook`), BODY, HEADERS, { ...strict, resolve }));
      expect(error.failure).toBe('refused');
      expect(error.message).toMatch(/^refused: rebound\.example resolves to a (loopback|private|cloud metadata) address/);
      expect(error.message).not.toMatch(/\d+\.\d+\.\d+\.\d+|::/); // the name's address stays ours
      expect(resolve.asked).toEqual(['rebound.example']);
      await settle();
      expect(hook.connections()).toBe(0);
    },
  );

  it('a name that resolves to nothing is a DNS failure', async () => {
    const error = await refusal(postWebhook(new URL('https://nowhere.example/'), BODY, HEADERS, { ...strict, resolve: resolverOf() }));
    expect(error).toMatchObject({ failure: 'dns', message: 'nowhere.example has no address' });
  });
});

describe('guardedLookup', () => {
  type Answered = { error: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number };
  const ask = (lookup: net.LookupFunction, options: Parameters<net.LookupFunction>[1]) =>
    new Promise<Answered>((resolve) => lookup('receiver.test', options, (error, address, family) => resolve({ error, address, family })));

  it('answers every vetted address when asked for all, and the first of the family when asked for one', async () => {
    const lookup = guardedLookup(resolverOf('127.0.0.1', '::1'), lenient);
    expect(await ask(lookup, { all: true })).toEqual({
      error: null,
      address: [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ],
      family: undefined,
    });
    expect(await ask(lookup, {})).toEqual({ error: null, address: '127.0.0.1', family: 4 });
    expect(await ask(lookup, { family: 6 })).toEqual({ error: null, address: '::1', family: 6 });
    expect(await ask(lookup, { family: 6, all: true })).toMatchObject({ address: [{ address: '::1', family: 6 }] });
  });

  it('refuses in both shapes when any address is refused', async () => {
    const lookup = guardedLookup(resolverOf('127.0.0.1', '::1'), strict);
    for (const options of [{ all: true }, {}, { family: 4 }]) {
      const { error } = await ask(lookup, options);
      expect(error).toBeInstanceOf(WebhookRequestError);
      expect(error!.message).toBe(
        'refused: receiver.test resolves to a loopback address (private addresses need WEBHOOK_ALLOW_PRIVATE_URLS)',
      );
    }
  });
});
