// Wires config → database → services → yoga + graphql-ws → listen, and the graceful stop.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { createYoga } from 'graphql-yoga';
import type { Logger } from 'pino';
import { AUDIT_EXPORT_PATH, serveAuditExport } from './audit/export.js';
import { clientAddressOf, refuseKnownGuess, useKeyAuth } from './auth/http-plugin.js';
import type { Config } from './config.js';
import { openSecretBox } from './crypto/secret-box.js';
import { dashboardHandler } from './dashboard/serve.js';
import { type Database, openDatabase } from './db/database.js';
import { isDatabaseUnavailable } from './db/outage.js';
import { GRAPHIQL_ASSETS_PATH, renderGraphiQL, serveGraphiQLAsset } from './graphiql/graphiql.js';
import { useBodySizeLimit } from './graphql/body-limit.js';
import type { Context, RequestServices } from './graphql/context.js';
import { useCostLimit } from './graphql/cost.js';
import { maskError, useDomainErrors } from './graphql/errors.js';
import { useInputGuard } from './graphql/input-guard.js';
import { useCodedLimitErrors } from './graphql/limit-errors.js';
import { useMalformedRequestErrors } from './graphql/request-errors.js';
import { schema } from './graphql/schema.js';
import { useStripOriginalError } from './graphql/strip-original-error.js';
import { createLogger, yogaLogger } from './observability/log.js';
import type { Metrics } from './observability/metrics.js';
import type { Tracing } from './observability/tracing.js';
import { useRequestLimits } from './ratelimit/plugin.js';
import { useSharedSubscriptionExecution } from './realtime/shared-execution.js';
import { attachWebSocketServer } from './realtime/websocket.js';
import { connectRedis } from './redis.js';
import { GITHUB_INTAKE_PATH, handleGitHubIntake } from './scanner/github-intake.js';
import { type GitLabIntakeDeps, handleGitLabIntake, isGitLabIntakePath } from './scanner/gitlab-intake.js';
import { handleScim, isScimPath, type ScimHttpDeps } from './scim/http.js';
import { createServices, type Services } from './services.js';
import { bootstrapTeam } from './teams/bootstrap.js';
import type { Resolver } from './webhooks/http-client.js';

/** Operations per batched HTTP request. */
export const MAX_BATCH = 5;
/** Largest request body (a collection of a few hundred requests fits easily). */
export const MAX_BODY_BYTES = 2_000_000;

// Query abuse limits (graphql-armor): each refusal is a coded error, never a 500.
const armor = new EnvelopArmor({
  maxDepth: { n: 10 },
  maxAliases: { n: 15 },
  maxDirectives: { n: 10 },
  maxTokens: { n: 1_000 },
  // The cost limit is ours (graphql/cost.ts, useCostLimit): armor's counted a list once unless it
  // had a literal `first`, and weighed a 1 MiB JSON field like a scalar.
  costLimit: { enabled: false },
  blockFieldSuggestion: { enabled: true },
});

export interface KeyplaneServer {
  url: string;
  port: number;
  services: Services;
  /** Set on the first start on an empty database: the only time the key exists in plaintext. */
  bootstrapKey: string | null;
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** The embedded PostgreSQL died and would not restart: `npm start` exits with the cause. */
  onFatal?: (error: Error) => void;
  /** how webhook endpoints' host names are resolved (default: the system's resolver, hosts file included) */
  resolveHost?: Resolver;
}

export async function startKeyplane(config: Config, options: StartOptions = {}): Promise<KeyplaneServer> {
  const log = options.log ?? createLogger(config.logLevel);
  // Loaded only when traces are exported: unset, none of OpenTelemetry is loaded or registered.
  const tracing = config.tracing ? (await import('./observability/tracing.js')).startTracing({ ...config.tracing, log }) : undefined;
  const db = await openDatabase({
    ...config,
    log,
    role: 'server',
    onFatal: options.onFatal ?? ((error) => log.fatal({ err: error }, 'the database is gone for good')),
    extendClient: tracing?.tracePrisma,
  }).catch(async (error: unknown) => {
    await tracing?.shutdown();
    throw error;
  });
  const redis = config.redisUrl ? connectRedis(config.redisUrl, log, 'limits') : undefined;
  const secretBox = await openSecretBox({ encryptionKey: config.encryptionKey, dataDir: config.dataDir, log });
  if (config.databaseUrl && !config.encryptionKey) {
    log.warn(
      'ENCRYPTION_KEY is not set: secrets are sealed with the key file in DATA_DIR; instances sharing this database need one ENCRYPTION_KEY',
    );
  }
  const services = createServices(config, db, log, secretBox, redis, { resolveHost: options.resolveHost, tracing });
  try {
    return await serve(config, services, tracing);
  } catch (error) {
    // A failed start (port taken, say) must not leave the data directory locked.
    await services.stop();
    redis?.disconnect();
    await db.close();
    await tracing?.shutdown();
    throw error;
  }
}

async function serve(config: Config, services: Services, tracing: Tracing | undefined): Promise<KeyplaneServer> {
  const { log, redis, db } = services;

  const bootstrap = await bootstrapTeam(
    services.prisma,
    services.keys,
    { team: 'My team', email: 'admin@keyplane.local', name: 'Admin', plan: 'ENTERPRISE' },
    { onlyIfEmpty: true },
  );

  // One rule for the client address (TRUST_PROXY and X-Forwarded-For): auth/client-address.ts.
  const addressOf = (serverContext: unknown) => clientAddressOf(serverContext, config.trustProxy);
  const { gate } = services;
  const yoga = createYoga<Record<string, unknown>, Pick<Context, 'services'>>({
    schema,
    graphqlEndpoint: '/graphql',
    renderGraphiQL,
    graphiql: config.graphiql ? { title: 'Keyplane', headers: '{\n  "X-API-Key": ""\n}' } : false,
    landingPage: false,
    // Unexpected errors are masked; the database being unreachable becomes a coded 503 instead,
    // and a domain error its coded GraphQLError (graphql/errors.ts).
    maskedErrors: { maskError },
    logging: yogaLogger(log, { isRepetitive: isDatabaseUnavailable }),
    // Batched requests: each operation counts against the rate limit; a small batch only.
    batching: { limit: MAX_BATCH },
    // Replaced by useBodySizeLimit, which costs nothing when Content-Length is sent.
    maxRequestBodySize: false,
    // The rest of the context comes from the plugins that own it: the caller from useKeyAuth,
    // the usage from useRequestLimits.
    context: { services: requestServices(services) },
    plugins: [
      // First: their spans hold everything the others do (OTEL_EXPORTER_OTLP_ENDPOINT set only).
      ...(tracing?.plugins ?? []),
      useBodySizeLimit(MAX_BODY_BYTES),
      useMalformedRequestErrors({ authFailures: services.authFailures, addressOf }),
      ...armor.protect().plugins,
      useCodedLimitErrors(),
      useStripOriginalError(),
      // Domain errors in every result become coded GraphQLErrors before yoga's masking.
      useDomainErrors(),
      useKeyAuth({ gate, addressOf }),
      useRequestLimits({
        limiter: services.rateLimiter,
        quota: services.quota,
        subscriptions: services.subscriptions,
        metrics: services.metrics,
      }),
      // After authentication and the rate limit (SPEC §4's order), before any resolver.
      useInputGuard(),
      useCostLimit(),
      useSharedSubscriptionExecution(),
    ],
  });

  const dashboard = dashboardHandler();
  const githubIntake = {
    scanner: services.scanner,
    metrics: services.metrics,
    publicKeys: config.githubScanningPublicKeys,
    trustProxy: config.trustProxy,
  };
  const gitlabIntake: GitLabIntakeDeps = {
    scanner: services.scanner,
    metrics: services.metrics,
    token: config.gitlabRevocationToken,
    limiter: services.gitlabIntakeLimiter,
    failures: services.authFailures,
    trustProxy: config.trustProxy,
  };
  // An intake's failure is logged and answered 500 (JSON), never left hanging.
  const served = (handling: Promise<void>, res: ServerResponse) =>
    void handling.catch((error: unknown) => {
      log.error({ err: error }, 'scanner intake failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"internal error"}');
    });
  const guesses = { gate, trustProxy: config.trustProxy };
  const auditExport = {
    gate,
    audit: services.audit,
    prisma: services.prisma,
    log,
    trustProxy: config.trustProxy,
    limiter: services.rateLimiter,
    quota: services.quota,
  };
  const scim: ScimHttpDeps = {
    gate,
    limiter: services.scimRateLimiter,
    trustProxy: config.trustProxy,
    log,
    users: services.scimUsers,
    groups: services.scimGroups,
    publicUrl: config.publicUrl,
  };
  const httpServer = createServer((req: IncomingMessage, res: ServerResponse) => {
    // Routed on the path alone: /healthz?probe=1 is still the health check.
    const pathname = (req.url ?? '/').split('?', 1)[0]!;
    if (pathname === '/healthz') return void healthz(db, res);
    if (pathname === '/metrics') return void metrics(services.metrics, res);
    if (pathname === GITHUB_INTAKE_PATH) return served(handleGitHubIntake(githubIntake, req, res), res);
    if (isGitLabIntakePath(pathname)) return served(handleGitLabIntake(gitlabIntake, req, res, pathname), res);
    if (pathname === AUDIT_EXPORT_PATH) return serveAuditExport(auditExport, req, res);
    if (isScimPath(pathname)) return void handleScim(scim, req, res, pathname);
    if (pathname.startsWith(GRAPHIQL_ASSETS_PATH) && config.graphiql) {
      return void serveGraphiQLAsset(req, res, pathname).catch((error: unknown) => {
        log.error({ err: error }, 'GraphiQL asset failed');
        if (!res.headersSent) res.writeHead(500).end();
      });
    }
    if (pathname !== yoga.graphqlEndpoint) return dashboard(req, res);
    if (refuseKnownGuess(guesses, req, res)) return;
    const stopTimer = services.metrics.latency.startTimer();
    res.once('finish', () => stopTimer());
    return yoga.requestListener(req, res);
  });
  // Longer than clients' and load balancers' idle timeouts, so that the server is never the one
  // closing an idle keep-alive connection just as a client reuses it (ECONNRESET under load).
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, resolve);
  });
  const ws = attachWebSocketServer(httpServer, yoga, {
    gate,
    sockets: services.sockets,
    limiter: services.rateLimiter,
    metrics: services.metrics,
    log,
    config,
  });
  services.start();
  const { port } = httpServer.address() as AddressInfo;
  const origin = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const url = `${origin}/graphql`;
  // SPEC §5: PUBLIC_URL defaults to http://HOST:PORT, the port being the one listened on (PORT=0).
  scim.publicUrl = config.publicUrl ?? origin;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    services,
    bootstrapKey: bootstrap?.apiKey ?? null,
    close: () =>
      (closing ??= (async () => {
        // Stop accepting; in-flight HTTP requests finish before the server's close callback.
        const httpClosed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        // Keep-alive connections become idle as their last request finishes: close them then.
        const reaper = setInterval(() => httpServer.closeIdleConnections(), 50);
        httpServer.closeIdleConnections();
        void httpClosed.then(() => clearInterval(reaper));
        await ws.close();
        await httpClosed;
        await services.stop();
        redis?.disconnect();
        await db.close();
        // Last: the spans of the stop are exported too.
        await tracing?.shutdown();
      })()),
  };
}

/** What resolvers may call, picked from the composition root (the same long-lived instances). */
function requestServices(services: Services): RequestServices {
  return {
    prisma: services.prisma,
    keys: services.keys,
    keyGeneration: services.keyGeneration,
    lifecycle: services.lifecycle,
    teamKeys: services.teamKeys,
    teamKeyAdmin: services.teamKeyAdmin,
    collections: services.collections,
    invitations: services.invitations,
    members: services.members,
    settings: services.settings,
    notifications: services.notifications,
    scanner: services.scanner,
    audit: services.audit,
    scimKeys: services.scimKeys,
    webhookEndpoints: services.webhookEndpoints,
    keyChanges: services.keyChanges,
    pubsub: services.pubsub,
    sockets: services.sockets,
  };
}

async function metrics({ registry }: Metrics, res: ServerResponse) {
  const body = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType }).end(body);
}

async function healthz(db: Database, res: ServerResponse) {
  try {
    await db.ping();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  } catch {
    res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"database unavailable"}');
  }
}
