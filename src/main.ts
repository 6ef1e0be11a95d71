// `npm start`: the server on the configured (by default embedded) parts.
import { ConfigError, loadConfig } from './config.js';
import { DataDirLockedError } from './db/data-dir-lock.js';
import { startKeyplane } from './server.js';

async function main() {
  const config = loadConfig();
  const server = await startKeyplane(config);
  console.log(`Keyplane listening on ${server.url}`);
  if (server.bootstrapKey) {
    // SPEC §3: the one time this key is shown. It goes to stdout, never to the log.
    console.log(`Bootstrap admin key: ${server.bootstrapKey}`);
  }
  const stop = (signal: string) => {
    server.services.log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.services.log.error({ err: error }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  // Fire-and-forget commands inside libraries (Redis pub/sub's SUBSCRIBE while Redis is away,
  // say) must not take the server down: they are logged, and the server keeps serving.
  process.on('unhandledRejection', (error) => server.services.log.error({ err: error }, 'unhandled rejection'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataDirLockedError) console.error(error.message);
  else console.error('Keyplane failed to start:', error);
  process.exit(1);
});
