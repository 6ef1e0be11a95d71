// Open graphql-ws sockets per client address: every socket counts from its upgrade until it
// closes, authenticated or still waiting for connection_init (which graphql-ws gives
// CONNECTION_INIT_WAIT_MS), so one address cannot hold the server's sockets (SOCKETS_PER_ADDRESS).
// Sockets per key are counted by the SocketRegistry, which tracks authenticated sockets anyway.
import type { WebSocket } from 'ws';

/** Close code of a socket refused for a cap or the key's rate limit. */
export const CLOSE_TOO_MANY = 4429;

export class AddressSlots {
  private readonly open = new Map<string, number>();

  constructor(readonly perAddress: number) {}

  /** Open sockets of this address. */
  count(address: string): number {
    return this.open.get(address) ?? 0;
  }

  /**
   * Counts the socket against its address until it closes; false (and not counted) when the
   * address already holds `perAddress` sockets.
   */
  tryAdmit(address: string, socket: WebSocket): boolean {
    const n = this.count(address);
    if (n >= this.perAddress) return false;
    this.open.set(address, n + 1);
    socket.once('close', () => {
      const left = this.count(address) - 1;
      if (left <= 0) this.open.delete(address);
      else this.open.set(address, left);
    });
    return true;
  }
}
