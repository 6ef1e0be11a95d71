// The `keyplane` command line: administrative commands on the configured database.
import '../node-version.js'; // first: an unsupported Node.js stops here, before the rest loads
import { Command, InvalidArgumentError, Option } from 'commander';
import { ZodError } from 'zod';
import { ConfigError, loadConfig } from '../config.js';
import { DataDirLockedError, EmbeddedPostgresError } from '../db/embedded/embedded-postgres.js';
import { MigrationsPendingError } from '../db/migrate.js';
import { createLogger } from '../observability/log.js';
import { errorText } from './error-text.js';
import type { ScanOptions } from './scan.js';

const program = new Command('keyplane').description('Keyplane administration').showHelpAfterError();

program
  .command('bootstrap')
  .description('Create a team with its Super Admin; prints {"teamId","userId","apiKey"} once')
  .requiredOption('--team <name>', 'team name')
  .requiredOption('--email <email>', "the Super Admin's email")
  .option('--name <name>', "the Super Admin's name (default: the email's local part)")
  .addOption(new Option('--plan <plan>', 'plan').choices(['FREE', 'ENTERPRISE']).default('ENTERPRISE'))
  .action(async (opts: { team: string; email: string; name?: string; plan: 'FREE' | 'ENTERPRISE' }) => {
    // Loaded here: `keyplane scan` (a pre-commit hook) should not pay for Prisma.
    const [{ openDatabase }, { KeyService }, { bootstrapTeam }] = await Promise.all([
      import('../db/database.js'),
      import('../keys/service.js'),
      import('../teams/bootstrap.js'),
    ]);
    const config = loadConfig();
    // With a server running on DATA_DIR, its embedded PostgreSQL; otherwise one of our own for
    // this command, stopped after it.
    const db = await openDatabase({ ...config, log: createLogger('warn'), role: 'cli' });
    try {
      const result = await bootstrapTeam(db.prisma, new KeyService(db.prisma, config.keyPepper), opts);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } finally {
      await db.close();
    }
  });

program
  .command('scan')
  .description('Find Keyplane keys (valid checksums) in files, folders or stdin (-); exit 1 when any is found')
  .argument('<paths...>', 'files or folders (.gitignore respected; binaries and node_modules skipped), - for stdin')
  .option('--report <url>', "send the findings to a Keyplane server's GraphQL endpoint (reportExposedApiKeys)")
  .option('--key <key>', 'the admin API key for --report (default: KEYPLANE_API_KEY)')
  .action(async (paths: string[], opts: ScanOptions) => {
    const { runScan } = await import('./scan.js');
    process.exitCode = await runScan(paths, opts);
  });

program
  .command('doctor')
  .description('Check the configuration, database and migrations, Redis, SMTP and intake settings; exit 1 when a check fails')
  .option('--json', 'one JSON object ({ok, checks: [{check, status, detail}]}) instead of lines')
  .action(async (opts: { json?: boolean }) => {
    const { runDoctor } = await import('./doctor.js');
    process.exitCode = await runDoctor(opts);
  });

program
  .command('migrate')
  .description('Apply the pending database migrations (under the advisory lock the servers use) and exit')
  .action(async () => {
    const { runMigrate } = await import('./migrate.js');
    process.exitCode = await runMigrate();
  });

program.parseAsync().catch((error: unknown) => {
  if (
    error instanceof ConfigError ||
    error instanceof DataDirLockedError ||
    error instanceof EmbeddedPostgresError ||
    error instanceof MigrationsPendingError
  ) {
    console.error(`keyplane: ${error.message}`);
  } else if (error instanceof ZodError) {
    console.error(`keyplane: invalid option: ${error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  } else if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
    console.error(`keyplane: ${error.message}`);
    process.exitCode = 2; // a path to scan does not exist: neither "found" (1) nor "clean" (0)
    return;
  } else if (error instanceof InvalidArgumentError) {
    console.error(`keyplane: ${error.message}`);
  } else {
    // One line on stderr (a connection refused, a migration that failed), never a stack.
    console.error(`keyplane: ${errorText(error)}`);
  }
  process.exitCode = 1;
});
