// graphql-ws catches nothing thrown by our hooks: it prints the error to stderr and closes the
// socket with 4500 and the error's message. A syntax error quotes the offending token, so a key
// written into a malformed document must be answered to that operation only, and never printed.
import { describe, expect, it, vi } from 'vitest';
import { useTestServer } from '../helpers/server.js';
import { openWsSession, settle } from '../helpers/ws-session.js';

describe('graphql-ws hook errors', () => {
  const server = useTestServer();

  it('a malformed document holding a key gets an error for its id; the socket stays usable; nothing is printed', async () => {
    const printed: string[] = [];
    const grab = (...args: unknown[]) =>
      void printed.push(args.map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : String(a))).join(' '));
    const spies = [
      vi.spyOn(console, 'error').mockImplementation(grab),
      vi.spyOn(console, 'warn').mockImplementation(grab),
      vi.spyOn(console, 'log').mockImplementation(grab),
    ];
    const secret = server.adminKey;
    try {
      const session = await openWsSession(server.url, secret);
      session.subscribe('bad', `{ viewer { "${secret}" } }`);
      await settle(300);
      const error = session.log.find((m) => m.type === 'error' && 'id' in m && m.id === 'bad');
      expect(error, JSON.stringify(session.log)).toBeDefined();
      expect(session.log.some((m) => m.type === 'close')).toBe(false);

      session.subscribe('good', '{ viewer { keyKind } }');
      const [result] = await session.nexts<{ data: { viewer: { keyKind: string } } }>('good', 1);
      expect(result.data.viewer.keyKind).toBeTruthy();
      session.close();
      const closed = await session.closed;
      expect(closed.reason).not.toContain(secret);
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(printed.join('\n')).not.toContain(secret);
    expect(printed.join('\n')).not.toContain(secret.slice(3));
  });
});
