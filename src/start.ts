// The server on the configured (by default embedded) parts: loaded by src/main.ts (`npm start`).
import { ConfigError, loadConfig } from './config.js';
import { DataDirLockedError, EmbeddedPostgresError } from './db/embedded/embedded-postgres.js';
import { MigrationsPendingError } from './db/migrate.js';
import { createLogger } from './observability/log.js';
import { startKeyplane } from './server.js';

async function main() {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  let running: Awaited<ReturnType<typeof startKeyplane>> | undefined;
  let stopSignal: string | undefined;
  const stop = (signal: string) => {
    if (stopSignal) return;
    stopSignal = signal;
    // Still starting: stop once the start is done (the embedded PostgreSQL is not left behind).
    if (!running) return;
    const server = running;
    server.services.log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.services.log.error({ err: error }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  // Installed before the start: a signal while the database starts must still stop it.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => stop(signal));

  const began = Date.now();
  const server = await startKeyplane(config, {
    log,
    onFatal: (error) => {
      // PostgreSQL would not come back: say why, release what we hold, exit non-zero.
      console.error(`Keyplane is stopping: ${error.message}`);
      // Non-zero however the process ends: closing may leave the event loop empty before the
      // promise below settles (seen once under load: exit code 0), and the timer is unref'd.
      process.exitCode = 1;
      void (running?.close() ?? Promise.resolve()).finally(() => process.exit(1));
      setTimeout(() => process.exit(1), 10_000).unref();
    },
  });
  running = server;
  log.info({ ms: Date.now() - began }, 'started');
  console.log(`Keyplane listening on ${server.url}`);
  if (server.bootstrapKey) {
    // SPEC §3: the one time this key is shown. It goes to stdout, never to the log.
    console.log(`Bootstrap admin key: ${server.bootstrapKey}`);
  }
  // Fire-and-forget commands inside libraries (Redis pub/sub's SUBSCRIBE while Redis is away,
  // say) must not take the server down: they are logged, and the server keeps serving.
  process.on('unhandledRejection', (error) => server.services.log.error({ err: error }, 'unhandled rejection'));
  if (stopSignal) {
    const signal = stopSignal;
    stopSignal = undefined;
    stop(signal);
  }
}

main().catch((error: unknown) => {
  if (
    error instanceof ConfigError ||
    error instanceof DataDirLockedError ||
    error instanceof EmbeddedPostgresError ||
    error instanceof MigrationsPendingError
  ) {
    console.error(error.message);
  } else console.error('Keyplane failed to start:', error);
  process.exit(1);
});
