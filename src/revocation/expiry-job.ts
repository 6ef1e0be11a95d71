// Persists expiries: a key past its expiresAt already reads REVOKED/EXPIRED everywhere; this job
// writes it down through the revocation service, every 30 s. Safe with several instances.
import type { Logger } from 'pino';
import type { RevocationService } from './service.js';

export class ExpiryJob {
  private timer?: NodeJS.Timeout;
  private running: Promise<unknown> = Promise.resolve();

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

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Persists every expiry up to `now`, in batches; returns how many keys this run wrote. */
  async run(now = new Date(), batch = 1_000): Promise<number> {
    let total = 0;
    for (;;) {
      const expired = await this.revocation.persistExpired(now, batch);
      this.revocation.announce(expired);
      total += expired.length;
      if (expired.length < batch) return total;
    }
  }
}
