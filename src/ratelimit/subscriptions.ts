// Open subscriptions per key, capped, so that one key cannot hold the server's sockets hostage.
export class SubscriptionCap {
  private readonly open = new Map<string, number>();
  total = 0;

  constructor(readonly perKey: number) {}

  tryOpen(keyId: string): boolean {
    const n = this.open.get(keyId) ?? 0;
    if (n >= this.perKey) return false;
    this.open.set(keyId, n + 1);
    this.total += 1;
    return true;
  }

  close(keyId: string): void {
    const n = this.open.get(keyId) ?? 0;
    if (n <= 1) this.open.delete(keyId);
    else this.open.set(keyId, n - 1);
    if (n > 0) this.total -= 1;
  }
}
