// `keyplane doctor`: checks a deployment before traffic — the configuration exactly as the server
// reads it, then what it depends on (database and migrations, Redis, SMTP) and the settings whose
// absence silently changes behaviour. One line per check; exit 1 when any check fails. It changes
// nothing: no migration, no embedded PostgreSQL created (an existing one is started for the check
// when no server runs, as `keyplane bootstrap` does).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import pino from 'pino';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { KEY_FILE_NAME, SecretBox } from '../crypto/secret-box.js';
import { locateDatabase, withPostgresClient } from '../db/database.js';
import { isInitialised } from '../db/embedded/postgres-process.js';
import { listNames, type MigrationStatus, migrationStatus, readMigrations } from '../db/migrate.js';
import { createLogger } from '../observability/log.js';
import { errorText } from './error-text.js';

export type Verdict = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  check: string;
  status: Verdict;
  /** one line; a configuration failure has one line per problem */
  detail: string;
}

/** A service that does not answer within this long (per connection step) is reported, not waited for. */
const NETWORK_TIMEOUT_MS = 5_000;

export async function runDoctor(options: { json?: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const results = await diagnose(env);
  const failed = results.some((r) => r.status === 'fail');
  process.stdout.write(options.json ? `${JSON.stringify({ ok: !failed, checks: results }, null, 2)}\n` : formatResults(results));
  return failed ? 1 : 0;
}

export async function diagnose(env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // The message names each bad variable (secret-bearing values are never echoed by loadConfig).
    const problems = error.message.replace(/^Invalid configuration:\s*/, '').split(/\n\s*/);
    return [{ check: 'configuration', status: 'fail', detail: problems.join('\n') }];
  }
  const [database, redis, smtp] = await Promise.all([checkDatabase(config), checkRedis(config), checkSmtp(config)]);
  return [
    { check: 'configuration', status: 'ok', detail: `valid (listens on ${config.host}:${config.port}, DATA_DIR ${config.dataDir})` },
    ...database,
    redis,
    smtp,
    checkGitHubIntake(config),
    checkGitLabIntake(config),
    await checkEncryptionKey(config),
    checkPublicUrl(config),
  ];
}

/** Aligned columns: status, check, detail (continuation lines under the detail). */
export function formatResults(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length)) + 2;
  const lines = results.map((r) => {
    const [first, ...more] = r.detail.split('\n');
    const indent = ' '.repeat(6 + width);
    return [`${r.status.padEnd(6)}${r.check.padEnd(width)}${first}`, ...more.map((line) => indent + line)].join('\n');
  });
  const count = (status: Verdict) => results.filter((r) => r.status === status).length;
  const summary =
    results.length === 1 && results[0]?.status === 'fail'
      ? 'doctor: the configuration is invalid (the other checks need it)'
      : `doctor: ${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail`;
  return `${lines.join('\n')}\n${summary}\n`;
}

/** Where a database is, without its credentials. */
function describeUrl(url: string): string {
  const { hostname, port, pathname } = new URL(url);
  return `${hostname}:${port || 5432}${pathname}`;
}

async function checkDatabase(config: Config): Promise<CheckResult[]> {
  const where = config.databaseUrl ? `at ${describeUrl(config.databaseUrl)}` : `in ${path.join(config.dataDir, 'postgres')}`;
  const migrations = await readMigrations();
  if (!config.databaseUrl && !(await isInitialised(path.join(config.dataDir, 'postgres')).catch(() => true))) {
    return [
      {
        check: 'database',
        status: 'warn',
        detail: `no embedded PostgreSQL ${where} yet: the first start (or keyplane migrate) creates it`,
      },
      migrationsResult(config, { applied: [], pending: migrations.map((m) => m.name), changed: [], unknown: [] }),
    ];
  }
  // Logs (an embedded server left running and stopped, say) go to stderr: stdout is the report.
  const log = createLogger('warn', pino.destination(2));
  let location: Awaited<ReturnType<typeof locateDatabase>>;
  try {
    location = await locateDatabase({ ...config, log, role: 'cli' });
  } catch (error) {
    return [{ check: 'database', status: 'fail', detail: errorText(error) }];
  }
  try {
    const { version, status } = await withPostgresClient(
      location.url,
      async (connection) => {
        const [row] = await connection.query<{ version: string }>(`SELECT current_setting('server_version') AS version`);
        return { version: row?.version.split(' ')[0] ?? '?', status: await migrationStatus(connection, migrations) };
      },
      { connectionTimeoutMillis: NETWORK_TIMEOUT_MS, query_timeout: NETWORK_TIMEOUT_MS },
    );
    return [
      { check: 'database', status: 'ok', detail: `PostgreSQL ${version} ${config.databaseUrl ? '' : 'embedded '}${where}` },
      migrationsResult(config, status),
    ];
  } catch (error) {
    return [{ check: 'database', status: 'fail', detail: `cannot use the database ${where}: ${errorText(error)}` }];
  } finally {
    await location.release();
  }
}

function migrationsResult(config: Config, status: MigrationStatus): CheckResult {
  const check = 'migrations';
  if (status.changed.length > 0) {
    return {
      check,
      status: 'fail',
      detail: `${listNames(status.changed)} changed after being applied: the server refuses to start on this database`,
    };
  }
  if (status.pending.length > 0) {
    const pending = `${status.applied.length} applied, ${status.pending.length} pending (${listNames(status.pending)})`;
    return config.migrateOnStart
      ? { check, status: 'warn', detail: `${pending}: the server applies them at start (or run keyplane migrate)` }
      : { check, status: 'fail', detail: `${pending}: with MIGRATE_ON_START=false the server refuses to start; run keyplane migrate` };
  }
  const applied = `all ${status.applied.length} applied`;
  if (status.unknown.length > 0) {
    return {
      check,
      status: 'warn',
      detail: `${applied}, and ${status.unknown.length} this release does not know (${listNames(status.unknown)}): a newer release migrated this database`,
    };
  }
  return { check, status: 'ok', detail: applied };
}

async function checkRedis(config: Config): Promise<CheckResult> {
  const check = 'redis';
  if (!config.redisUrl)
    return { check, status: 'ok', detail: 'unset: rate limits, counters and events stay in this process (one instance)' };
  const where = new URL(config.redisUrl).host;
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    connectTimeout: NETWORK_TIMEOUT_MS,
    commandTimeout: NETWORK_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null, // one try: the report says what happened
    enableOfflineQueue: false,
  });
  // The connection's own error (ECONNREFUSED…) says more than the rejected connect ("Connection is closed.").
  let connectionError: unknown;
  redis.on('error', (error: Error) => (connectionError ??= error));
  try {
    await redis.connect();
    await redis.ping();
    const version = /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? '?';
    return { check, status: 'ok', detail: `PING answered by Redis ${version} at ${where}` };
  } catch (error) {
    return { check, status: 'fail', detail: `no answer from ${where}: ${errorText(connectionError ?? error)}` };
  } finally {
    redis.disconnect();
  }
}

async function checkSmtp(config: Config): Promise<CheckResult> {
  const check = 'smtp';
  if (!config.smtpUrl) return { check, status: 'warn', detail: 'SMTP_URL unset: emails stay in the outbox table and are only logged' };
  const where = new URL(config.smtpUrl).host;
  const transport = nodemailer.createTransport({
    url: config.smtpUrl,
    connectionTimeout: NETWORK_TIMEOUT_MS,
    greetingTimeout: NETWORK_TIMEOUT_MS,
    socketTimeout: NETWORK_TIMEOUT_MS,
  });
  try {
    await transport.verify();
    return { check, status: 'ok', detail: `${where} accepted the connection${new URL(config.smtpUrl).username ? ' and the login' : ''}` };
  } catch (error) {
    return { check, status: 'fail', detail: `${where}: ${errorText(error)}` };
  } finally {
    transport.close();
  }
}

function checkGitHubIntake(config: Config): CheckResult {
  const check = 'github intake';
  const keys = Object.keys(config.githubScanningPublicKeys ?? {});
  return keys.length > 0
    ? { check, status: 'ok', detail: `${keys.length} GitHub public key${keys.length === 1 ? '' : 's'} loaded` }
    : { check, status: 'warn', detail: 'GITHUB_SCANNING_PUBLIC_KEYS unset: POST /scanner/github refuses everything' };
}

function checkGitLabIntake(config: Config): CheckResult {
  const check = 'gitlab intake';
  return config.gitlabRevocationToken
    ? { check, status: 'ok', detail: 'GITLAB_REVOCATION_TOKEN set' }
    : { check, status: 'warn', detail: 'GITLAB_REVOCATION_TOKEN unset: /scanner/gitlab/… refuses everything' };
}

async function checkEncryptionKey(config: Config): Promise<CheckResult> {
  const check = 'encryption key';
  // The key id is not secret (every sealed value carries it): it lets instances be compared.
  if (config.encryptionKey)
    return { check, status: 'ok', detail: `ENCRYPTION_KEY set (key id ${new SecretBox(config.encryptionKey).keyId})` };
  const file = path.join(config.dataDir, KEY_FILE_NAME);
  let keyFile: string;
  try {
    const { mode } = await stat(file);
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    if (key.length !== 32)
      return { check, status: 'fail', detail: `${file} does not hold a 32-byte base64 key: the server refuses to start` };
    const permissions = (mode & 0o777).toString(8).padStart(4, '0');
    if (mode & 0o077) {
      return { check, status: 'warn', detail: `${file} has mode ${permissions}: others may read it (the server makes it 0600 at start)` };
    }
    keyFile = `key file ${file} (mode ${permissions}, key id ${new SecretBox(key).keyId})`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return { check, status: 'fail', detail: `${file}: ${errorText(error)}` };
    keyFile = `key file ${file} not created yet (the first start creates it, mode 0600)`;
  }
  return config.databaseUrl
    ? { check, status: 'warn', detail: `ENCRYPTION_KEY unset: ${keyFile}; instances sharing this database must share one ENCRYPTION_KEY` }
    : { check, status: 'ok', detail: `ENCRYPTION_KEY unset: ${keyFile}` };
}

function checkPublicUrl(config: Config): CheckResult {
  const check = 'public url';
  return config.publicUrl
    ? { check, status: 'ok', detail: config.publicUrl }
    : { check, status: 'warn', detail: 'PUBLIC_URL unset: absolute URLs (SCIM locations) use http://HOST:PORT as the server listens' };
}
