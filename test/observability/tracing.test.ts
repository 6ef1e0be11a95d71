// Traces (issue 20): a real OTLP/HTTP receiver (JSON, as the exporter sends it) on port 0, two
// instances on one database exporting to it. A revocation on A, sent with a traceparent of the
// test's, and its apiKeyRevoked delivery on B are spans of that one trace; no span holds a key,
// the document or the variables. Unset, nothing is registered and nothing is sent.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';
import { graphql } from '../generated/index.js';
import { gql } from '../helpers/client.js';
import { addUser, viewerTeamId } from '../helpers/fixtures.js';
import { keyChangesFollowed, makeTestEnv } from '../helpers/server.js';
import { openWsSession, settle } from '../helpers/ws-session.js';

const Revoke = graphql(`
  mutation TracingRevoke($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }
`);
const BadVariable = graphql(`
  query TracingBadVariable($first: Int) { teamApiKeys(first: $first) { totalCount } }
`);
const REVOKED_SUBSCRIPTION = 'subscription TracingRevoked { apiKeyRevoked { apiKey { id } reason } }';
const KEY_SHAPED = /kp[cs]?_[0-9A-Za-z]{36}/;

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  arrayValue?: { values: OtlpValue[] };
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
  events?: { name: string; attributes?: OtlpAttribute[] }[];
}
interface ReceivedSpan extends OtlpSpan {
  service: string;
}

/** An OTLP/HTTP receiver: keeps what is posted to /v1/traces (JSON), answers 200. */
async function startReceiver() {
  const bodies: string[] = [];
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const spans = (): ReceivedSpan[] =>
    bodies.flatMap((body) =>
      (
        JSON.parse(body) as {
          resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
        }
      ).resourceSpans.flatMap((rs) => {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        return rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ ...span, service })));
      }),
    );
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    requests,
    spans,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const attribute = (span: OtlpSpan, key: string) => {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  return value?.stringValue ?? value?.intValue;
};

/** Every string in an OTLP attribute list (arrays included). */
function strings(attributes: OtlpAttribute[] | undefined): string[] {
  const of = (v: OtlpValue): string[] => [
    ...(v.stringValue === undefined ? [] : [v.stringValue]),
    ...(v.arrayValue?.values.flatMap(of) ?? []),
  ];
  return (attributes ?? []).flatMap((a) => of(a.value));
}

/** What the OpenTelemetry API has registered in this process (its global registry). */
const otelGlobals = () =>
  Object.keys(((globalThis as Record<symbol, unknown>)[Symbol.for('opentelemetry.js.api.1')] as object | undefined) ?? {}).filter(
    (k) => k !== 'version',
  );

let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
});

describe('OTEL_EXPORTER_OTLP_ENDPOINT unset', () => {
  it('registers nothing and sends nothing', async () => {
    const testEnv = await makeTestEnv();
    const server = await startKeyplane(loadConfig(testEnv.env));
    try {
      const adminKey = server.bootstrapKey!;
      const teamId = await viewerTeamId(server, adminKey);
      const m = await addUser(server, teamId);
      const traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
      const res = await gql(server.url, Revoke, { ids: [m.apiKey.id] }, { key: adminKey, headers: { traceparent } });
      expect(res.data?.revokeApiKeys.revokedCount).toBe(1);
      expect(otelGlobals()).toEqual([]);
      // No trace context comes back either.
      expect(res.headers.get('traceparent')).toBeNull();
    } finally {
      await server.close();
      await testEnv.cleanup();
    }
    expect(receiver.requests).toEqual([]);
  });
});

describe('OTEL_EXPORTER_OTLP_ENDPOINT set: two instances on one database', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  let a: KeyplaneServer;
  let b: KeyplaneServer;

  beforeAll(async () => {
    testEnv = await makeTestEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
    a = await startKeyplane(loadConfig({ ...testEnv.env, OTEL_SERVICE_NAME: 'keyplane-a' }));
    b = await startKeyplane(loadConfig({ ...testEnv.env, OTEL_SERVICE_NAME: 'keyplane-b' }));
    await Promise.all([keyChangesFollowed(a), keyChangesFollowed(b)]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await testEnv?.cleanup();
  });

  it("a revocation on A and its delivery on B share the caller's trace; no key, document or variables in any span", async () => {
    const adminKey = a.bootstrapKey!;
    const teamId = await viewerTeamId(a, adminKey);
    const m = await addUser(a, teamId);
    const subscriber = await openWsSession(b.url, adminKey);
    const traceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const variables = { ids: [m.apiKey.id] };
    try {
      subscriber.subscribe('r', REVOKED_SUBSCRIPTION);
      await settle(400);
      const res = await gql(a.url, Revoke, variables, { key: adminKey, headers: { traceparent: `00-${traceId}-${callerSpanId}-01` } });
      expect(res.data?.revokeApiKeys.revokedCount).toBe(1);
      const [event] = await subscriber.nexts<{ data: { apiKeyRevoked: { apiKey: { id: string } } } }>('r', 1);
      expect(event!.data.apiKeyRevoked.apiKey.id).toBe(m.apiKey.id);
      // An error quoting a variable's value (a key, here) in its message.
      const bad = await gql(a.url, BadVariable, { first: adminKey as unknown as number }, { key: adminKey });
      expect(bad.errors?.length).toBe(1);
    } finally {
      subscriber.close();
    }
    // Closing flushes what each instance buffered.
    await Promise.all([a.close(), b.close()]);

    const spans = receiver.spans();
    expect(receiver.requests.every((r) => r.startsWith('POST /v1/traces application/json'))).toBe(true);
    const inTrace = spans.filter((s) => s.traceId === traceId);
    const fromA = inTrace.filter((s) => s.service === 'keyplane-a');
    const fromB = inTrace.filter((s) => s.service === 'keyplane-b');
    const named = (list: ReceivedSpan[], name: string | RegExp) =>
      list.filter((s) => (typeof name === 'string' ? s.name === name : name.test(s.name)));

    // A: the operation (a child of the caller's span) with parse, validate and execute under it.
    const [operation, ...more] = named(fromA, 'mutation TracingRevoke');
    expect(more).toEqual([]);
    expect(operation!.parentSpanId).toBe(callerSpanId);
    expect(operation!.kind).toBe(2); // SERVER
    expect(attribute(operation!, 'graphql.operation.name')).toBe('TracingRevoke');
    for (const phase of ['graphql.parse', 'graphql.validate', 'graphql.execute mutation.TracingRevoke']) {
      expect(named(fromA, phase).map((s) => s.parentSpanId)).toEqual([operation!.spanId]);
    }
    const [execute] = named(fromA, 'graphql.execute mutation.TracingRevoke');
    // The revocation under execute; its statements under it.
    const [revocation] = named(fromA, 'keyplane.revocation');
    expect(revocation!.parentSpanId).toBe(execute!.spanId);
    expect(attribute(revocation!, 'keyplane.key.id')).toBe(m.apiKey.id);
    expect(attribute(revocation!, 'keyplane.revocation.reason')).toBe('REVOKED_BY_ADMIN');
    const statements = fromA.filter((s) => s.parentSpanId === revocation!.spanId && s.name.startsWith('prisma '));
    expect(statements.map((s) => s.name)).toContain('prisma UPDATE');
    expect(statements.every((s) => attribute(s, 'db.system.name') === 'postgresql')).toBe(true);
    expect(named(fromA, /^prisma \w+\.\w+$/).length).toBeGreaterThan(0); // model.operation (e.g. the ids' access check)

    // B: the delivery of the change (its NOTIFY carried the trace context).
    const [delivery, ...again] = named(fromB, 'keyplane.key_change.deliver');
    expect(again).toEqual([]);
    expect(delivery!.parentSpanId).toBe(revocation!.spanId);
    expect(attribute(delivery!, 'keyplane.key.id')).toBe(m.apiKey.id);
    expect(attribute(delivery!, 'keyplane.key_change')).toBe('revoked');
    // A delivers the change once: at commit, or through its own NOTIFY when that came first.
    expect(named(fromA, 'keyplane.key_change.deliver').length).toBeLessThanOrEqual(1);

    // The failed operation keeps its errors' codes (graphql-js's own have none yet: GRAPHQL_ERROR), not their messages.
    const badExecute = named(spans, 'graphql.execute query.TracingBadVariable');
    expect(badExecute).toHaveLength(1);
    const exception = badExecute[0]!.events?.find((e) => e.name === 'exception');
    const [type, message, ...rest] = strings(exception?.attributes);
    expect([type, rest]).toEqual(['graphql.execute.error', []]);
    expect(message).toMatch(/^[A-Z_]+$/);

    // Nothing key-shaped, no document, no variables: in any attribute of any span, or anywhere in what was sent.
    const texts = spans.flatMap((s) => [s.name, ...strings(s.attributes), ...(s.events ?? []).flatMap((e) => strings(e.attributes))]);
    expect(texts.length).toBeGreaterThan(50);
    expect(texts.filter((t) => KEY_SHAPED.test(t))).toEqual([]);
    const documents = [print(Revoke), print(BadVariable), REVOKED_SUBSCRIPTION].map((d) => d.replace(/\s+/g, ' ').trim());
    for (const t of texts) {
      const flat = t.replace(/\s+/g, ' ');
      for (const d of documents) expect(flat).not.toContain(d);
      expect(flat).not.toMatch(/revokeApiKeys\s*\(|apiKeyRevoked\s*\{|teamApiKeys\s*\(/);
      expect(flat).not.toContain(JSON.stringify(variables));
    }
    const everything = receiver.bodies.join('\n');
    expect(everything).not.toMatch(KEY_SHAPED);
    expect(everything).not.toContain(adminKey);
    expect(everything).not.toContain(m.key);
  });
});
