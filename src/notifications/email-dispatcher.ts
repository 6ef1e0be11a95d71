// Sends the email outbox over SMTP (nodemailer). Rows are claimed with one UPDATE … FOR UPDATE
// SKIP LOCKED that also leases them, so several instances never send one email twice, and no
// transaction stays open while SMTP talks (a pool connection would be held for the whole send). A failed send is
// retried with exponential backoff; nothing is dropped while SMTP is down.
// Without SMTP_URL emails stay in the outbox and are logged (address and subject, never a key).
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { PrismaClient } from '../generated/prisma/client.js';
import { NudgedLoop } from '../jobs/nudged-loop.js';
import type { OutboxListener } from '../revocation/service.js';

interface ClaimedEmail {
  id: string;
  /** the lease this dispatcher holds: its updates apply only while it still holds it */
  claimedUntil: Date;
  to: string;
  subject: string;
  text: string;
  html: string;
  attempts: number;
}

export interface DispatcherOptions {
  smtpUrl?: string;
  from: string;
  retrySeconds: number;
  /** how often the outbox is polled besides the nudges after each revocation */
  pollMs?: number;
  batch?: number;
  /** how long a claim holds before another dispatcher may take the row (a crashed sender) */
  leaseSeconds?: number;
}

const MAX_BACKOFF_FACTOR = 64;
const DEFAULT_LEASE_SECONDS = 60;

export class EmailDispatcher implements OutboxListener {
  private readonly transport: Transporter | null;
  /** a pass on each nudge (after a revocation) and every pollMs */
  private readonly loop: NudgedLoop;
  sent = 0;
  failed = 0;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly log: Logger,
    private readonly options: DispatcherOptions,
  ) {
    // Every SMTP timeout well under the lease (together two thirds of it: 10 s, 10 s, 20 s for the
    // default 60 s): a send never outlives its claim (another dispatcher would send it again).
    const leaseMs = (options.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
    this.transport = options.smtpUrl
      ? nodemailer.createTransport({
          url: options.smtpUrl,
          connectionTimeout: leaseMs / 6,
          greetingTimeout: leaseMs / 6,
          socketTimeout: leaseMs / 3,
        })
      : null;
    this.loop = new NudgedLoop('email dispatcher pass', async () => (await this.sendBatch()) > 0, log, options.pollMs ?? 2_000);
  }

  queued(emailIds: string[]): void {
    if (this.transport) return this.nudge();
    this.log.info({ emails: emailIds.length, outbox: emailIds.slice(0, 20) }, 'email kept in the outbox (no SMTP_URL)');
  }

  start(): void {
    if (this.transport) this.loop.start();
  }

  /** Runs a pass now, or right after the one under way. */
  nudge(): void {
    if (this.transport) this.loop.nudge();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    this.transport?.close();
  }

  /** Claims due rows and sends them; returns how many it claimed. */
  async sendBatch(): Promise<number> {
    const lease = this.options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
    const claimed = await this.prisma.$queryRawUnsafe<ClaimedEmail[]>(
      `UPDATE "EmailOutbox" SET "claimedUntil" = now() + make_interval(secs => $2), "attempts" = "attempts" + 1
        WHERE "id" IN (SELECT "id" FROM "EmailOutbox"
                        WHERE "sentAt" IS NULL AND "nextAttemptAt" <= now()
                          AND ("claimedUntil" IS NULL OR "claimedUntil" <= now())
                        ORDER BY "nextAttemptAt" LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING "id", "claimedUntil", "to", "subject", "text", "html", "attempts"`,
      this.options.batch ?? 20,
      lease,
    );
    await Promise.all(
      claimed.map((email) =>
        this.send(email).catch((error: unknown) => this.log.error({ err: error, emailId: email.id }, 'could not record an email send')),
      ),
    );
    return claimed.length;
  }

  private async send(email: ClaimedEmail): Promise<void> {
    const held = { id: email.id, claimedUntil: email.claimedUntil };
    try {
      await this.transport!.sendMail({
        from: this.options.from,
        to: email.to,
        subject: email.subject,
        text: email.text,
        html: email.html,
      });
    } catch (error) {
      const factor = Math.min(2 ** (email.attempts - 1), MAX_BACKOFF_FACTOR);
      const message = error instanceof Error ? error.message : String(error);
      this.failed += 1;
      this.log.warn({ emailId: email.id, attempts: email.attempts, err: message }, 'email not sent; will retry');
      await this.prisma.emailOutbox.updateMany({
        where: held,
        data: {
          nextAttemptAt: new Date(Date.now() + factor * this.options.retrySeconds * 1000),
          claimedUntil: null,
          lastError: message.slice(0, 500),
        },
      });
      return;
    }
    this.sent += 1;
    // Sent: if this write fails, the lease runs out and the email may go again (at least once).
    await this.prisma.emailOutbox.updateMany({ where: held, data: { sentAt: new Date(), claimedUntil: null, lastError: null } });
  }
}
