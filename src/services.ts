// The composition root: builds the long-lived services once per server. server.ts hands each
// part only what it uses (a request's context: graphql/context.ts's RequestServices).
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AuditQuery } from './audit/query.js';
import { AuditRetentionJob } from './audit/retention-job.js';
import { Authenticator } from './auth/authenticator.js';
import { KeyGate } from './auth/gate.js';
import { LastUsedRecorder } from './auth/last-used.js';
import { CollectionService } from './collections/service.js';
import type { Config } from './config.js';
import type { SecretBox } from './crypto/secret-box.js';
import type { Database } from './db/database.js';
import type { PrismaClient } from './generated/prisma/client.js';
import { NudgedLoop } from './jobs/nudged-loop.js';
import { KeyChangeFeed } from './keys/change-feed.js';
import { KeyChanges } from './keys/events.js';
import { KeyGeneration } from './keys/generation.js';
import { KeyLifecycle } from './keys/lifecycle.js';
import { KeyService } from './keys/service.js';
import { TeamKeyAdmin } from './keys/team-key-admin.js';
import { TeamKeyQuery } from './keys/team-key-query.js';
import { EmailDispatcher } from './notifications/email-dispatcher.js';
import { ExpiryReminders } from './notifications/expiry-reminders.js';
import { NotificationService } from './notifications/service.js';
import { Metrics } from './observability/metrics.js';
import type { Tracing } from './observability/tracing.js';
import { AuthFailureLimiter } from './ratelimit/address-limiter.js';
import { KeyRateLimiter } from './ratelimit/key-limiter.js';
import { MonthlyQuota } from './ratelimit/quota.js';
import { SubscriptionCap } from './ratelimit/subscriptions.js';
import { createKeyplanePubSub, type KeyplanePubSub } from './realtime/pubsub.js';
import { sharedExecutionStats } from './realtime/shared-execution.js';
import { SocketRegistry } from './realtime/socket-registry.js';
import { connectRedis } from './redis.js';
import { ExpiryJob } from './revocation/expiry-job.js';
import { RevocationService } from './revocation/service.js';
import { GITLAB_REPORTS_PER_MINUTE } from './scanner/gitlab-intake.js';
import { ScannerService } from './scanner/service.js';
import { ScimGroupService } from './scim/groups.js';
import { ScimKeyService } from './scim/keys.js';
import { ScimUserService } from './scim/users.js';
import { InvitationService } from './teams/invitations.js';
import { MemberService } from './teams/members.js';
import { SettingsService } from './teams/settings-service.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import type { Resolver } from './webhooks/http-client.js';
import { purgeOldWebhookEvents, renderPendingEvents } from './webhooks/outbox.js';
import { WebhookEndpointService } from './webhooks/service.js';

export interface Services {
  config: Config;
  log: Logger;
  prisma: PrismaClient;
  db: Database;
  auth: Authenticator;
  /** authentication with the brute-force limit, as every transport runs it */
  gate: KeyGate;
  lastUsed: LastUsedRecorder;
  pubsub: KeyplanePubSub;
  keys: KeyService;
  keyGeneration: KeyGeneration;
  keyChanges: KeyChanges;
  lifecycle: KeyLifecycle;
  revocation: RevocationService;
  invitations: InvitationService;
  collections: CollectionService;
  teamKeys: TeamKeyQuery;
  teamKeyAdmin: TeamKeyAdmin;
  members: MemberService;
  settings: SettingsService;
  expiryJob: ExpiryJob;
  expiryReminders: ExpiryReminders;
  sockets: SocketRegistry;
  rateLimiter: KeyRateLimiter;
  quota: MonthlyQuota;
  authFailures: AuthFailureLimiter;
  subscriptions: SubscriptionCap;
  notifications: NotificationService;
  scanner: ScannerService;
  scimKeys: ScimKeyService;
  /** /scim/v2/Users: members as the identity provider provisions them */
  scimUsers: ScimUserService;
  scimGroups: ScimGroupService;
  /** requests per SCIM key on /scim/v2 (SCIM_RATE_LIMIT_PER_MINUTE) */
  scimRateLimiter: KeyRateLimiter;
  /** reports per client address on POST /scanner/gitlab/revoke_tokens */
  gitlabIntakeLimiter: KeyRateLimiter;
  emails: EmailDispatcher;
  /** posts the rendered webhook deliveries, signed, with retries (src/webhooks/dispatcher.ts) */
  webhooks: WebhookDispatcher;
  metrics: Metrics;
  audit: AuditQuery;
  auditRetention: AuditRetentionJob;
  redis?: Redis;
  /** renders the webhook events that changes noted (src/webhooks/outbox.ts) */
  webhookEvents: NudgedLoop;
  /** seals secrets that are read back (webhook signing secrets) */
  secretBox: SecretBox;
  /** webhook endpoints and their deliveries (GraphQL) */
  webhookEndpoints: WebhookEndpointService;
  /**
   * Called when a request enqueued a webhook delivery (sendTestWebhook): the dispatcher's nudge,
   * so that it posts it without waiting for its next poll (services.webhooks.nudge).
   */
  onWebhookEnqueued: () => void;
  /** starts the background work (after listen) */
  start(): void;
  /** stops it, flushing what is buffered */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** how webhook endpoints' host names are resolved (default: the system's resolver) */
  resolveHost?: Resolver;
  /** OTEL_EXPORTER_OTLP_ENDPOINT set: revocations and key change deliveries are spans */
  tracing?: Tracing;
}

export function createServices(
  config: Config,
  db: Database,
  log: Logger,
  secretBox: SecretBox,
  redis?: Redis,
  options: ServiceOptions = {},
): Services {
  const prisma = db.prisma;
  const lastUsed = new LastUsedRecorder(prisma, (error) => log.error({ err: error }, 'could not write lastUsedAt; will retry'));
  const auth = new Authenticator(prisma, lastUsed, { pepper: config.keyPepper });
  const keyChanges = new KeyChanges();
  const minted = (hash: string) => auth.index.add(hash);
  const keys = new KeyService(prisma, config.keyPepper, minted);
  // Events cross instances through Redis when there is one (two connections: one subscribes).
  const pubsubClients = config.redisUrl
    ? {
        publish: connectRedis(config.redisUrl, log, 'events', { queueWhileDown: true }),
        subscribe: connectRedis(config.redisUrl, log, 'event subscriptions', { queueWhileDown: true }),
        prefix: config.redisKeyPrefix,
      }
    : undefined;
  const pubsub = createKeyplanePubSub(pubsubClients);
  const emails = new EmailDispatcher(prisma, log, {
    smtpUrl: config.smtpUrl,
    from: config.emailFrom,
    retrySeconds: config.emailRetrySeconds,
    leaseSeconds: config.emailLeaseSeconds,
  });
  const webhooks = new WebhookDispatcher(prisma, secretBox, pubsub, log, {
    retrySeconds: config.webhookRetrySeconds,
    disableAfterHours: config.webhookDisableAfterHours,
    allowPrivateUrls: config.webhookAllowPrivateUrls,
    resolveHost: options.resolveHost,
  });
  const revocation = new RevocationService(prisma, keyChanges, pubsub, emails, options.tracing);
  const expiryJobIntervalMs = config.expiryJobIntervalSeconds * 1000;
  const expiryJob = new ExpiryJob(revocation, log, expiryJobIntervalMs);
  // A job of its own on the same period: reminders are notifications, not a revocation step.
  const expiryReminders = new ExpiryReminders(prisma, pubsub, emails, log, expiryJobIntervalMs);
  const sockets = new SocketRegistry(() => expiryJob.runSoon());
  const subscriptions = new SubscriptionCap(config.subscriptionsPerKey);
  // A key that changed is re-verified on its next use; its sockets are closed or re-armed (before
  // the subscriptions' streams hear of it). Changes made by any process on the database arrive
  // through the feed (NOTIFY), Redis or not.
  // Webhook events noted by changes are rendered after commit (src/webhooks/outbox.ts): at once
  // after a local key change, within a second for the rest (other instances, reminders, SCIM).
  // Rendered deliveries are posted at once (the dispatcher also polls, for other instances' events).
  const webhookEvents = new NudgedLoop(
    'webhook event rendering',
    async () => {
      const rendered = await renderPendingEvents(prisma);
      if (rendered > 0) webhooks.nudge();
      return rendered > 0;
    },
    log,
    1_000,
  );
  const webhookRetention = new NudgedLoop(
    'webhook event retention',
    async () => {
      await purgeOldWebhookEvents(prisma);
      return false;
    },
    log,
    3_600_000,
  );
  keyChanges.on('changed', (event) => {
    auth.onKeyChanged(event);
    if (event.change !== 'created') sockets.onKeyChanged(event);
    webhookEvents.nudge();
  });
  const keyFeed = new KeyChangeFeed(db, keyChanges, auth, log, { tracing: options.tracing });
  const quota = new MonthlyQuota(prisma, config.monthlyQuota, log, redis, config.redisKeyPrefix);
  const authFailures = new AuthFailureLimiter(config.authFailuresPerMinute, redis, config.redisKeyPrefix);
  const auditRetention = new AuditRetentionJob(prisma, config.auditRetentionDays, log);
  const metrics = new Metrics({
    verification_cache_hits: () => auth.hits,
    verification_cache_misses: () => auth.lookups,
    open_subscriptions: () => subscriptions.total,
    subscription_events_delivered: () => sharedExecutionStats.deliveries,
    subscription_executions: () => sharedExecutionStats.executions,
    emails_sent: () => emails.sent,
    email_send_failures: () => emails.failed,
    webhook_deliveries_succeeded: () => webhooks.succeeded,
    webhook_delivery_failures: () => webhooks.failed,
  });
  const services: Services = {
    config,
    secretBox,
    webhookEvents,
    log,
    prisma,
    db,
    lastUsed,
    auth,
    gate: new KeyGate({ auth, authFailures, metrics, log }),
    pubsub,
    keys,
    keyChanges,
    revocation,
    lifecycle: new KeyLifecycle(prisma, keys, revocation, keyChanges, config.keyPepper),
    keyGeneration: new KeyGeneration(prisma, keys, pubsub),
    invitations: new InvitationService(prisma, keys, {
      failures: authFailures,
      onTokenRefused: () => metrics.authFailures.inc({ reason: 'invitation' }),
    }),
    collections: new CollectionService(prisma, revocation, config.keyPepper, config, minted),
    teamKeys: new TeamKeyQuery(prisma, (key) => auth.hash(key)),
    teamKeyAdmin: new TeamKeyAdmin(revocation),
    members: new MemberService(prisma),
    settings: new SettingsService(prisma, keyChanges, revocation, (teamId) => auth.forgetTeam(teamId)),
    expiryJob,
    expiryReminders,
    notifications: new NotificationService(prisma),
    scanner: new ScannerService(prisma, revocation, config.keyPepper),
    scimKeys: new ScimKeyService(prisma, revocation, keyChanges, config.keyPepper, minted),
    scimUsers: new ScimUserService(prisma, revocation),
    scimGroups: new ScimGroupService(prisma, (userId) => auth.forgetUser(userId)),
    emails,
    webhooks,
    sockets,
    rateLimiter: new KeyRateLimiter(config.rateLimitPerWindow, config.rateLimitWindowSeconds, redis, config.redisKeyPrefix),
    // Per SCIM key, a limit of its own (identity providers burst), counted apart from GraphQL's.
    scimRateLimiter: new KeyRateLimiter(
      config.scimRateLimitPerWindow,
      config.rateLimitWindowSeconds,
      redis,
      `${config.redisKeyPrefix}:scim`,
    ),
    // Per client address (GitLab's reports carry no key of ours), shared by every instance.
    gitlabIntakeLimiter: new KeyRateLimiter(GITLAB_REPORTS_PER_MINUTE, 60, redis, `${config.redisKeyPrefix}:gitlab`),
    quota,
    authFailures,
    subscriptions,
    metrics,
    audit: new AuditQuery(prisma),
    auditRetention,
    // Read at each call: the dispatcher may set onWebhookEnqueued after the services are built.
    webhookEndpoints: new WebhookEndpointService(prisma, secretBox, { allowPrivateUrls: config.webhookAllowPrivateUrls }, () =>
      services.onWebhookEnqueued(),
    ),
    onWebhookEnqueued: () => webhooks.nudge(),
    redis,
    start() {
      lastUsed.start();
      quota.start();
      expiryJob.start();
      expiryReminders.start();
      emails.start();
      webhooks.start();
      auditRetention.start();
      webhookEvents.start();
      webhookRetention.start();
      keyFeed.start().catch((error: unknown) => log.error({ err: error }, 'key change feed did not start'));
    },
    async stop() {
      await Promise.all([
        lastUsed.stop(),
        quota.stop(),
        expiryJob.stop(),
        expiryReminders.stop(),
        emails.stop(),
        webhooks.stop(),
        keyFeed.stop(),
        auditRetention.stop(),
        webhookEvents.stop(),
        webhookRetention.stop(),
      ]);
      pubsubClients?.publish.disconnect();
      pubsubClients?.subscribe.disconnect();
    },
  };
  return services;
}
