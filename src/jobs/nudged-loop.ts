// A background pass that runs every `pollMs` and on demand (nudge), never two at once: a nudge
// during a pass runs another right after it, so work noted meanwhile is not left for the next
// poll. `pass` returns whether it found work (then it runs again at once, until it finds none).
import type { Logger } from 'pino';

export class NudgedLoop {
  private timer?: NodeJS.Timeout;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly pass: () => Promise<boolean>,
    private readonly log: Logger,
    private readonly pollMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.nudge(), this.pollMs);
    this.timer.unref();
    this.nudge();
  }

  /** Runs a pass now, or right after the one under way. */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          while (!this.stopped && (await this.pass()));
        } catch (error) {
          this.log.error({ err: error }, `${this.name} failed`);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
  }

  /** Resolves when no pass is under way (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}
