// Revocation emails leave through a real SMTP server (smtp-server, run by the test): their
// content, delivery once SMTP comes back, and each email sent once by racing dispatchers.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { EmailDispatcher } from '../../src/notifications/email-dispatcher.js';
import { graphql } from '../generated/index.js';
import { gql } from '../helpers/client.js';
import { addKey, addUser } from '../helpers/fixtures.js';
import { freePort } from '../helpers/process.js';
import { useTestServer } from '../helpers/server.js';
import { startSmtp } from '../helpers/smtp.js';

const RevokeApiKeys = graphql(`
  mutation MailRevoke($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }
`);

async function until<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

let smtpPort: number;
const server = useTestServer(async () => {
  smtpPort = await freePort();
  return { SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, EMAIL_RETRY_SECONDS: '0.2', EMAIL_FROM: 'Keyplane <noreply@example.com>' };
});

describe('revocation emails', () => {
  it('wait in the outbox while SMTP is down, then go out exactly once, naming the key, why, when and by whom', async () => {
    const owner = await addUser(server, server.teamId);
    const admin = await addUser(server, server.teamId, 'TEAM_ADMIN');
    const doomed = await addKey(server, owner.user, 'Deploy bot');
    await gql(server.url, RevokeApiKeys, { ids: [doomed.apiKey.id] }, { key: admin.key });

    // Nothing listens on the SMTP port yet: the email is tried, kept, and scheduled again.
    const pending = await until(
      () => server.services.prisma.emailOutbox.findFirst({ where: { to: owner.user.email } }),
      (row) => (row?.attempts ?? 0) >= 2,
    );
    expect(pending!.sentAt).toBeNull();
    expect(pending!.lastError).toMatch(/ECONNREFUSED|connect/i);

    const smtp = await startSmtp(smtpPort);
    try {
      const mails = await until(
        () => smtp.received.filter((m) => m.subject?.includes('Deploy bot')),
        (m) => m.length >= 1,
      );
      await new Promise((r) => setTimeout(r, 1_000)); // time for a duplicate to show up, if any
      expect(smtp.received.filter((m) => m.subject?.includes('Deploy bot'))).toHaveLength(1);
      const { mail } = mails[0]!;
      expect(mail.to && 'text' in mail.to ? mail.to.text : '').toContain(owner.user.email);
      expect(mail.from?.text).toContain('noreply@example.com');
      const hint = `kp_…${doomed.apiKey.hint}`;
      for (const body of [mail.text ?? '', mail.html || '']) {
        expect(body).toContain('Deploy bot');
        expect(body).toContain(hint);
        expect(body).toContain(admin.user.name);
        expect(body).toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
        expect(body).not.toContain(doomed.secret);
      }
      const sent = await server.services.prisma.emailOutbox.findUniqueOrThrow({ where: { id: pending!.id } });
      expect(sent.sentAt).not.toBeNull();
    } finally {
      await smtp.close();
    }
  }, 30_000);

  it('are each sent once when several dispatchers race over the outbox', async () => {
    const smtpPort2 = await freePort();
    const smtp = await startSmtp(smtpPort2);
    const { prisma } = server.services;
    const tag = `race-${Date.now()}`;
    // Rows only these dispatchers send: the server's own one (pointing at the first SMTP port) stops.
    await server.services.emails.stop();
    await prisma.emailOutbox.updateMany({ where: { sentAt: null }, data: { sentAt: new Date() } });
    await prisma.emailOutbox.createMany({
      data: Array.from({ length: 60 }, (_, i) => ({ to: `r${i}@example.com`, subject: `${tag} ${i}`, text: 't', html: '<p>t</p>' })),
    });
    const dispatchers = [1, 2, 3].map(
      () =>
        new EmailDispatcher(prisma, pino({ level: 'silent' }), {
          smtpUrl: `smtp://127.0.0.1:${smtpPort2}`,
          from: 'k@example.com',
          retrySeconds: 0.2,
          batch: 7,
        }),
    );
    try {
      // Until the outbox is empty: a send that failed (a slow SMTP reply on a loaded machine) is
      // retried after retrySeconds, so an empty batch does not mean that nothing is left.
      const unsent = () => prisma.emailOutbox.count({ where: { subject: { startsWith: tag }, sentAt: null } });
      const deadline = Date.now() + 20_000;
      while ((await unsent()) > 0 && Date.now() < deadline) {
        await Promise.all(
          dispatchers.map(async (d) => {
            while ((await d.sendBatch()) > 0);
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const subjects = smtp.received.map((m) => m.subject).filter((s) => s?.startsWith(tag));
      expect(subjects).toHaveLength(60);
      expect(new Set(subjects).size).toBe(60);
      expect(dispatchers.reduce((n, d) => n + d.sent, 0)).toBe(60);
      expect(await prisma.emailOutbox.count({ where: { subject: { startsWith: tag }, sentAt: null } })).toBe(0);
    } finally {
      await Promise.all(dispatchers.map((d) => d.stop()));
      await smtp.close();
    }
  }, 30_000);
});
