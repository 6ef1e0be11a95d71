// The one place environment variables are read. A bad value stops the start with a message
// that names the variable (SPEC §3).
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const booleanSetting = z
  .enum(['true', 'false', '1', '0', 'on', 'off', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => ['true', '1', 'on', 'yes'].includes(v));

const schema = z.object({
  PORT: port.default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: z
    .string()
    .transform((value, ctx) => parsePublicUrl(value, ctx))
    .optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[\w:.-]{1,40}$/, 'letters, digits and _ : . - only')
    .default('kp'),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL')
    .optional(),
  EMAIL_FROM: z.string().min(3).default('Keyplane <keyplane@localhost>'),
  EMAIL_RETRY_SECONDS: z.coerce.number().positive().default(30),
  EMAIL_LEASE_SECONDS: z.coerce.number().min(1).max(3600).default(60),
  RATE_LIMIT_PER_MINUTE: positiveInt.default(60),
  RATE_LIMIT_WINDOW_SECONDS: positiveInt.default(60),
  SCIM_RATE_LIMIT_PER_MINUTE: positiveInt.default(600),
  AUTH_FAILURES_PER_MINUTE: positiveInt.default(20),
  MONTHLY_QUOTA_FREE: positiveInt.default(1_000),
  MONTHLY_QUOTA_ENTERPRISE: positiveInt.default(100_000),
  SUBSCRIPTIONS_PER_KEY: positiveInt.default(25),
  EXPIRY_JOB_INTERVAL_SECONDS: z.coerce.number().positive().max(3600).default(30),
  KEY_PEPPER: z.string().min(16, 'must be at least 16 characters').optional(),
  GITHUB_SCANNING_PUBLIC_KEYS: z.string().min(1).optional(),
  // Travels in an HTTP header: printable ASCII without spaces. Long enough not to be guessed.
  GITLAB_REVOCATION_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters (use a random one: openssl rand -hex 32)')
    .max(1_024, 'must be at most 1024 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces (it is sent in the Authorization header)')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: z
    .string()
    .transform((value, ctx) => parseTrustProxy(value, ctx))
    .optional(),
  MAX_COLLECTIONS_PER_TEAM: positiveInt.default(1_000),
  MAX_COLLECTION_BYTES: positiveInt.default(1_048_576),
  SOCKETS_PER_KEY: positiveInt.default(20),
  SOCKETS_PER_ADDRESS: positiveInt.default(200),
  AUDIT_RETENTION_DAYS: positiveInt.max(36_500).default(365),
  WEBHOOK_RETRY_SECONDS: z.coerce.number().positive().max(3600).default(5),
  WEBHOOK_DISABLE_AFTER_HOURS: z.coerce.number().positive().max(8760).default(120),
  WEBHOOK_ALLOW_PRIVATE_URLS: booleanSetting.default(false),
  ENCRYPTION_KEY: z
    .string()
    .transform((value, ctx) => parseEncryptionKey(value, ctx))
    .optional(),
  GRAPHIQL: booleanSetting.default(true),
  MIGRATE_ON_START: booleanSetting.default(true),
  // OpenTelemetry's standard names (the OTLP exporter specification): traces go to
  // OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces over OTLP/HTTP; unset, nothing is traced.
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .transform((value, ctx) => parseOtlpEndpoint(value, ctx))
    .optional(),
  OTEL_SERVICE_NAME: z
    .string()
    .regex(/^[\x21-\x7e]{1,100}$/, 'printable ASCII without spaces, at most 100 characters')
    .default('keyplane'),
});

const SECRET_BEARING = new Set([
  'KEY_PEPPER',
  'DATABASE_URL',
  'REDIS_URL',
  'SMTP_URL',
  'ENCRYPTION_KEY',
  'GITLAB_REVOCATION_TOKEN',
  // a collector's URL may carry a token in its query
  'OTEL_EXPORTER_OTLP_ENDPOINT',
]);

export type Env = z.input<typeof schema>;

export interface Config {
  port: number;
  host: string;
  /**
   * PUBLIC_URL, without a trailing slash: the base of absolute URLs (SCIM meta.location). Unset:
   * the server uses http://HOST:PORT with the port it actually listens on.
   */
  publicUrl?: string;
  dataDir: string;
  databaseUrl?: string;
  redisUrl?: string;
  /** lets several deployments (or test servers) share one Redis */
  redisKeyPrefix: string;
  smtpUrl?: string;
  emailFrom: string;
  /** first retry delay of a failed email; doubles per attempt up to 64× */
  emailRetrySeconds: number;
  /** how long an instance's claim on an outbox email holds: a crashed instance's emails go out after it */
  emailLeaseSeconds: number;
  rateLimitPerWindow: number;
  rateLimitWindowSeconds: number;
  /** requests per SCIM key per window on /scim/v2 (identity providers burst: its own default) */
  scimRateLimitPerWindow: number;
  authFailuresPerMinute: number;
  monthlyQuota: { FREE: number; ENTERPRISE: number };
  subscriptionsPerKey: number;
  /** how often expiries are persisted and expiry reminders sent (their latency) */
  expiryJobIntervalSeconds: number;
  keyPepper?: string;
  /** key identifier → public key (PEM), from GITHUB_SCANNING_PUBLIC_KEYS */
  githubScanningPublicKeys?: Record<string, string>;
  /** the pre-shared token GitLab's secret detection sends to /scanner/gitlab (unset: it is refused) */
  gitlabRevocationToken?: string;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  /** proxies whose X-Forwarded-For is believed for the client address (none by default) */
  trustProxy: BlockList | null;
  maxCollectionsPerTeam: number;
  /** a collection's requests, as JSON text, in bytes */
  maxCollectionBytes: number;
  socketsPerKey: number;
  socketsPerAddress: number;
  graphiql: boolean;
  /** audit events older than this many days are purged */
  auditRetentionDays: number;
  /** the first retry delay of a failed webhook delivery: Svix's schedule (5 s … 10 h) scales with it */
  webhookRetrySeconds: number;
  /** an endpoint whose every attempt has failed for this long is disabled */
  webhookDisableAfterHours: number;
  /** http:// and loopback/private addresses for webhook endpoints (tests, private deployments) */
  webhookAllowPrivateUrls: boolean;
  /**
   * ENCRYPTION_KEY (32 bytes): seals secrets that must be read back (webhook signing secrets).
   * Unset: a key file generated in DATA_DIR (src/crypto/secret-box.ts).
   */
  encryptionKey?: Buffer;
  /**
   * MIGRATE_ON_START: apply pending migrations when the server starts (the default); false leaves
   * them to `keyplane migrate` in the deploy pipeline, and a server finding any pending refuses to start.
   */
  migrateOnStart: boolean;
  /**
   * OTEL_EXPORTER_OTLP_ENDPOINT + OTEL_SERVICE_NAME: traces exported over OTLP/HTTP to `url`
   * (the endpoint's /v1/traces). Unset: no tracing at all (observability/tracing.ts is not loaded).
   */
  tracing?: { url: string; serviceName: string };
}

export class ConfigError extends Error {}

/** Reads config from an environment (process.env by default); empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(schema.shape).flatMap((name) => (env[name] === undefined || env[name] === '' ? [] : [[name, env[name]]])),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      // Values that may hold a secret are never echoed.
      const shown = SECRET_BEARING.has(name) ? '' : ` (got ${JSON.stringify(present[name])})`;
      return `${name}: ${issue.message}${shown}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.PUBLIC_URL,
    dataDir: path.resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    smtpUrl: e.SMTP_URL,
    emailFrom: e.EMAIL_FROM,
    emailRetrySeconds: e.EMAIL_RETRY_SECONDS,
    emailLeaseSeconds: e.EMAIL_LEASE_SECONDS,
    rateLimitPerWindow: e.RATE_LIMIT_PER_MINUTE,
    rateLimitWindowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
    scimRateLimitPerWindow: e.SCIM_RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
    monthlyQuota: { FREE: e.MONTHLY_QUOTA_FREE, ENTERPRISE: e.MONTHLY_QUOTA_ENTERPRISE },
    subscriptionsPerKey: e.SUBSCRIPTIONS_PER_KEY,
    expiryJobIntervalSeconds: e.EXPIRY_JOB_INTERVAL_SECONDS,
    keyPepper: e.KEY_PEPPER,
    githubScanningPublicKeys: e.GITHUB_SCANNING_PUBLIC_KEYS ? githubPublicKeys(e.GITHUB_SCANNING_PUBLIC_KEYS) : undefined,
    gitlabRevocationToken: e.GITLAB_REVOCATION_TOKEN,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY ?? null,
    maxCollectionsPerTeam: e.MAX_COLLECTIONS_PER_TEAM,
    maxCollectionBytes: e.MAX_COLLECTION_BYTES,
    socketsPerKey: e.SOCKETS_PER_KEY,
    socketsPerAddress: e.SOCKETS_PER_ADDRESS,
    graphiql: e.GRAPHIQL,
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    webhookRetrySeconds: e.WEBHOOK_RETRY_SECONDS,
    webhookDisableAfterHours: e.WEBHOOK_DISABLE_AFTER_HOURS,
    webhookAllowPrivateUrls: e.WEBHOOK_ALLOW_PRIVATE_URLS,
    encryptionKey: e.ENCRYPTION_KEY,
    migrateOnStart: e.MIGRATE_ON_START,
    tracing: e.OTEL_EXPORTER_OTLP_ENDPOINT ? { url: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME } : undefined,
  };
}

/** The body of GitHub's GET /meta/public_keys/secret_scanning, given inline or as a file path. */
const githubKeysSchema = z.object({
  public_keys: z.array(z.object({ key_identifier: z.string().min(1), key: z.string().min(1) })).min(1),
});

function githubPublicKeys(value: string): Record<string, string> {
  const fail = (why: string) => new ConfigError(`Invalid configuration:\n  GITHUB_SCANNING_PUBLIC_KEYS: ${why}`);
  let text = value;
  if (!value.trimStart().startsWith('{')) {
    try {
      text = readFileSync(value, 'utf8');
    } catch {
      throw fail(`is neither JSON nor a readable file (got ${JSON.stringify(value)})`);
    }
  }
  let parsed: z.infer<typeof githubKeysSchema>;
  try {
    parsed = githubKeysSchema.parse(JSON.parse(text));
  } catch {
    throw fail('must be {"public_keys": [{"key_identifier": …, "key": "-----BEGIN PUBLIC KEY-----…"}]}');
  }
  const keys: Record<string, string> = {};
  for (const { key_identifier: id, key } of parsed.public_keys) {
    try {
      createPublicKey(key);
    } catch {
      throw fail(`the key ${JSON.stringify(id)} is not a PEM public key`);
    }
    keys[id] = key;
  }
  return keys;
}

/**
 * PUBLIC_URL: an absolute http(s) URL where clients reach this server (a path prefix allowed, as
 * behind a proxy), without credentials, query or fragment; trailing slashes trimmed.
 */
function parsePublicUrl(value: string, ctx: z.RefinementCtx): string {
  const fail = (why: string) => {
    ctx.addIssue({ code: 'custom', message: why });
    return z.NEVER;
  };
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return fail('must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail('must be an absolute http:// or https:// URL');
  if (url.username || url.password) return fail('must not contain credentials');
  if (url.search || url.hash || /[?#]/.test(value)) return fail('must not have a query or a fragment');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base http(s) URL. Per the OTLP exporter
 * specification, the traces' URL is the base with `v1/traces` appended to its path (a path prefix
 * kept: http://collector:4318/otlp → http://collector:4318/otlp/v1/traces).
 */
function parseOtlpEndpoint(value: string, ctx: z.RefinementCtx): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    url = new URL('about:blank');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: 'must be an absolute http:// or https:// URL (OTLP/HTTP, e.g. http://localhost:4318)' });
    return z.NEVER;
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url.toString();
}

/** ENCRYPTION_KEY: 32 random bytes, as 64 hex digits or base64 (`openssl rand -base64 32`). */
function parseEncryptionKey(value: string, ctx: z.RefinementCtx): Buffer {
  const text = value.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(text)
    ? Buffer.from(text, 'hex')
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(text)
      ? Buffer.from(text, 'base64')
      : null;
  if (key?.length === 32) return key;
  ctx.addIssue({ code: 'custom', message: 'must be 32 bytes as 64 hex digits or base64 (openssl rand -base64 32)' });
  return z.NEVER;
}

/** TRUST_PROXY: comma-separated addresses or CIDRs (IPv4 or IPv6) of the proxies in front. */
function parseTrustProxy(value: string, ctx: z.RefinementCtx): BlockList {
  const list = new BlockList();
  for (const entry of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (!family || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      ctx.addIssue({ code: 'custom', message: `not an address or CIDR: ${JSON.stringify(entry)}` });
      return list;
    }
    list.addSubnet(address!, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}
