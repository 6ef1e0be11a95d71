// Persists expiries: a key past its expiresAt already reads REVOKED/EXPIRED everywhere; this job
// writes it down through the revocation service, every EXPIRY_JOB_INTERVAL_SECONDS (30 s by
// default). Safe with several instances.
import type { Logger } from 'pino';
import type { RevocationService } from './service.js';

export class ExpiryJob {
  private timer?: NodeJS.Timeout;
  private running: Promise<unknown> = Promise.resolve();
  private soon?: Promise<unknown>;
  private stopped = false;

  constructor(
    private readonly revocation: RevocationService,
    private readonly log: Logger,
    private readonly intervalMs = 30_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running = this.run().catch((error: unknown) => this.log.error({ err: error }, 'expiry job failed'));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Persists due expiries now, or right after the run under way (a socket's key just expired). */
  runSoon(): void {
    if (this.soon || this.stopped) return;
    this.soon = this.running
      .then(() => this.run())
      .catch((error: unknown) => this.log.error({ err: error }, 'expiry job failed'))
      .finally(() => {
        this.soon = undefined;
      });
    this.running = this.soon;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Persists every expiry up to `now`, in batches; returns how many keys this run wrote. */
  async run(now = new Date(), batch = 1_000): Promise<number> {
    let total = 0;
    for (;;) {
      const expired = await this.revocation.persistExpired(now, batch);
      total += expired.length;
      if (expired.length < batch) return total;
    }
  }
}
