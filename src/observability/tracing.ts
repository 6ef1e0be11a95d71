// OpenTelemetry traces, exported over OTLP/HTTP (JSON) when OTEL_EXPORTER_OTLP_ENDPOINT is set.
// Loaded by server.ts only then (a dynamic import): unset, none of this is loaded, no plugin is
// added to yoga and nothing is registered, so the request path is the same code as without it.
//
// Spans: one per GraphQL operation (SERVER, a child of the caller's W3C `traceparent`) with
// parse, validate and execute (@envelop/opentelemetry's, resolvers off) under it; one per Prisma
// call (model.operation, or the SQL verb of a raw statement: never its text); a revocation
// (revocation/service.ts), whose trace context reaches the other instances in the key change's
// NOTIFY (migration key_change_trace), where the delivery of the change is a span of that trace
// (keys/change-feed.ts). No attribute holds a document, variables, a result or a key: the plugin
// is told so, and what it still records (a subscription's document, errors' messages) is removed
// before export (withoutRequestText).
import { randomUUID } from 'node:crypto';
import { useOpenTelemetry } from '@envelop/opentelemetry';
import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_SYSTEM_NAME,
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  DB_SYSTEM_NAME_VALUE_POSTGRESQL,
} from '@opentelemetry/semantic-conventions';
import { type DocumentNode, getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { PrismaClient } from '../generated/prisma/client.js';

/** What the rest of the server uses of tracing (types only: callers never load this module). */
export interface Tracing {
  /** yoga plugins: the operation, parse and validate spans, and @envelop/opentelemetry's execute spans */
  plugins: Plugin[];
  /** the same client, with a span per call */
  tracePrisma(client: PrismaClient): PrismaClient;
  /**
   * Runs `work` in a span: a child of the active span, or of `traceparent` (a W3C header value,
   * e.g. from another instance) when given and valid. Ends it when `work` settles.
   */
  span<T>(name: string, work: (span: Pick<Span, 'setAttributes'>) => Promise<T> | T, traceparent?: string | null): Promise<T>;
  /** The W3C traceparent of the active span (null when there is none). */
  traceparent(): string | null;
  /** exports what is buffered and stops (waits at most SHUTDOWN_MS on the collector) */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** the traces' URL (OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, config.ts) */
  url: string;
  serviceName: string;
  log: Pick<Logger, 'warn'>;
}

const SHUTDOWN_MS = 3_000;
const EXPORT_FAILURE_LOG_MS = 60_000;

/** Text a span must never carry: the plugin's attributes for the document, variables, result and resolver arguments. */
const REQUEST_TEXT_ATTRIBUTES = [
  'graphql.execute.document',
  'graphql.execute.variables',
  'graphql.execute.result',
  'graphql.resolver.args',
] as const;

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};
const recordGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/**
 * The ALS context manager and the global tracer provider are the process's: registered by the
 * first tracing started, released by the last one stopped (tests run two servers in one process).
 */
let started = 0;

export function startTracing({ url, serviceName, log }: TracingOptions): Tracing {
  const propagator = new W3CTraceContextPropagator();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName, [ATTR_SERVICE_INSTANCE_ID]: randomUUID() }),
    spanProcessors: [withoutRequestText, new BatchSpanProcessor(loggingFailures(new OTLPTraceExporter({ url }), log))],
  });
  if (started++ === 0) provider.register({ propagator: null });
  const tracer = provider.getTracer('keyplane');

  const parentOf = (traceparent: string | null | undefined): Context =>
    traceparent ? propagator.extract(context.active(), { traceparent }, recordGetter) : context.active();

  return {
    plugins: graphqlPlugins(tracer, propagator),
    tracePrisma: (client) => tracePrisma(client, tracer),
    span: (name, work, traceparent) =>
      tracer.startActiveSpan(name, {}, parentOf(traceparent), async (span) => {
        try {
          return await work(span);
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      }),
    traceparent() {
      const carrier: Record<string, string> = {};
      propagator.inject(context.active(), carrier, {
        set: (c, k, v) => {
          c[k] = v;
        },
      });
      return carrier.traceparent ?? null;
    },
    async shutdown() {
      const done = provider.shutdown().catch(() => {});
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_MS).unref());
      await Promise.race([done, timeout]);
      if (--started === 0) {
        trace.disable();
        context.disable();
      }
    },
  };
}

/**
 * The operation span (parse, validate and the plugin's execute span under it), named
 * `<type> <name>` once the document is known; the caller's traceparent is its parent.
 */
function graphqlPlugins(tracer: Tracer, propagator: W3CTraceContextPropagator): Plugin[] {
  const operations = new WeakMap<object, Span>();
  const phase = (name: string, wrapped: () => void) =>
    tracer.startActiveSpan(name, (span) => {
      try {
        wrapped();
      } finally {
        span.end();
      }
    });
  const operationPlugin: Plugin = {
    instrumentation: {
      // The caller's trace context, for everything the request does (authentication included).
      request: ({ request }, wrapped) => context.with(propagator.extract(context.active(), request.headers, headerGetter), wrapped),
      operation: ({ context: graphqlContext }, wrapped) =>
        tracer.startActiveSpan('graphql.operation', { kind: SpanKind.SERVER }, async (span) => {
          operations.set(graphqlContext, span);
          try {
            await wrapped();
          } finally {
            span.end();
          }
        }),
      parse: (_payload, wrapped) => phase('graphql.parse', wrapped),
      validate: (_payload, wrapped) => phase('graphql.validate', wrapped),
    },
    onExecute: ({ args }) => nameOperation(operations.get(args.contextValue), args),
    onSubscribe: ({ args }) => nameOperation(operations.get(args.contextValue), args),
  };
  // Resolver spans off (one per field: too many); never the document, variables or result.
  const execute = useOpenTelemetry(
    { resolvers: false, document: false, variables: false, result: false },
    { getTracer: () => tracer },
    SpanKind.INTERNAL,
    {},
    'keyplane',
    'graphql.execute ',
  );
  return [operationPlugin, execute as Plugin];
}

function nameOperation(span: Span | undefined, args: { document: DocumentNode; operationName?: string | null }): void {
  if (!span) return;
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return;
  const name = operation.name?.value ?? 'anonymous';
  span.updateName(`${operation.operation} ${name}`);
  span.setAttributes({ 'graphql.operation.type': operation.operation, 'graphql.operation.name': name });
}

/** Raw statements are named by their verb: their text holds values. */
const SQL_VERB = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|LOCK|SET|COPY|CALL|DO)\b/i;

function sqlVerb(args: unknown): string {
  const first = Array.isArray(args) ? args[0] : args;
  const text =
    typeof first === 'string'
      ? first
      : Array.isArray(first)
        ? String(first[0] ?? '')
        : typeof first === 'object' && first !== null && 'strings' in first
          ? String((first as { strings: string[] }).strings[0] ?? '')
          : '';
  return SQL_VERB.exec(text)?.[1]?.toUpperCase() ?? 'SQL';
}

function tracePrisma(client: PrismaClient, tracer: Tracer): PrismaClient {
  return client.$extends({
    query: {
      $allOperations({ model, operation, args, query }) {
        const verb = model ? operation : sqlVerb(args);
        const attributes: Attributes = { [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_POSTGRESQL, [ATTR_DB_OPERATION_NAME]: verb };
        if (model) attributes[ATTR_DB_COLLECTION_NAME] = model;
        return tracer.startActiveSpan(
          model ? `prisma ${model}.${operation}` : `prisma ${verb}`,
          { kind: SpanKind.CLIENT, attributes },
          async (span) => {
            try {
              return await query(args);
            } catch (error) {
              span.setStatus({ code: SpanStatusCode.ERROR });
              throw error;
            } finally {
              span.end();
            }
          },
        );
      },
    },
  }) as unknown as PrismaClient;
}

/**
 * Before export: the request text the plugin records regardless of its options goes (a
 * subscription's document; errors' JSON in exception events, which may quote variables); an
 * exception keeps the errors' codes.
 */
const withoutRequestText: SpanProcessor = {
  onStart: () => {},
  onEnd(span: ReadableSpan) {
    const attributes = span.attributes as Record<string, unknown>;
    for (const name of REQUEST_TEXT_ATTRIBUTES) delete attributes[name];
    for (const event of span.events) {
      const message = event.attributes?.['exception.message'];
      if (event.name === 'exception' && typeof message === 'string') {
        (event.attributes as Record<string, unknown>)['exception.message'] = errorCodes(message);
      }
    }
  },
  forceFlush: async () => {},
  shutdown: async () => {},
};

/** The codes of GraphQL errors given as JSON (the plugin's exception message), or "error". */
function errorCodes(message: string): string {
  try {
    const errors = JSON.parse(message) as { extensions?: { code?: unknown } }[];
    if (Array.isArray(errors)) return errors.map((e) => String(e?.extensions?.code ?? 'GRAPHQL_ERROR')).join(', ');
  } catch {
    // not JSON: nothing of it is kept
  }
  return 'error';
}

/** A collector that cannot be reached is said in the log (once a minute), not silently. */
function loggingFailures(exporter: SpanExporter, log: Pick<Logger, 'warn'>): SpanExporter {
  let lastLogged = 0;
  return {
    export(spans, done) {
      exporter.export(spans, (result) => {
        if (result.code === ExportResultCode.FAILED && Date.now() - lastLogged > EXPORT_FAILURE_LOG_MS) {
          lastLogged = Date.now();
          log.warn({ err: result.error }, 'could not export traces to OTEL_EXPORTER_OTLP_ENDPOINT; spans are dropped');
        }
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}
