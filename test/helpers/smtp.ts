// A real SMTP server run by a test (smtp-server): it records each message once it has it whole,
// then acknowledges it after `state.delayMs` (a slow wire, for crash tests).
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  mail: ParsedMail;
  /** the recipients' addresses, comma-separated */
  to: string;
  subject: string;
  /** the sender's address (each instance of a test may send as its own) */
  from: string;
  /** when it was received whole (ms since the epoch) */
  at: number;
}

export async function startSmtp(port: number) {
  const received: ReceivedMail[] = [];
  const state = { delayMs: 0 };
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const to = mail.to && !Array.isArray(mail.to) ? mail.to.value.map((a) => a.address).join(',') : '';
          const from = mail.from?.value.map((a) => a.address).join(',') ?? '';
          received.push({ mail, to, subject: mail.subject ?? '', from, at: Date.now() });
          setTimeout(() => callback(), state.delayMs);
        })
        .catch(callback);
    },
  });
  smtp.on('error', () => {}); // a client killed mid-conversation
  await new Promise<void>((resolve) => smtp.listen(port, '127.0.0.1', resolve));
  return { received, state, close: () => new Promise<void>((resolve) => smtp.close(() => resolve())) };
}
