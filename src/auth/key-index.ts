// Which key hashes are live (not revoked), in memory, so that a valid key can be told from a guess
// without reading the database (SPEC §4: a valid key from a blocked address still works). Each hash
// is kept as its first 8 bytes: a sorted BigUint64Array (8 MB per million keys) plus small sets of
// the changes since it was built. Loaded at start, kept by the key change events, reconciled with
// the database periodically and after the change feed was lost. A false positive (a revoked key,
// a 2^-64 prefix collision) only costs a database read; the events keep false negatives to the
// instant between a commit elsewhere and its NOTIFY arriving.
import { createHash } from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client.js';

const HEX_HEAD = /^[0-9a-f]{16}/;

/**
 * The first 8 bytes of a hex hash. Keys are stored as lowercase hex digests; anything else (a row
 * written by hand) gets a stable prefix of its own rather than an exception in the change feed.
 */
export function prefixOf(hash: string): bigint {
  const head = HEX_HEAD.test(hash) ? hash.slice(0, 16) : createHash('sha256').update(hash).digest('hex').slice(0, 16);
  return BigInt(`0x${head}`);
}

function contains(sorted: BigUint64Array, value: bigint): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v === value) return true;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Changes kept in the sets before they are merged into the sorted array. */
const MERGE_AT = 50_000;

export class KeyHashIndex {
  private sorted: BigUint64Array = new BigUint64Array(0);
  private readonly added = new Set<bigint>();
  private readonly removed = new Set<bigint>();
  /** changes made while a reload runs, replayed on the new array */
  private journal: [add: boolean, prefix: bigint][] | null = null;
  private reloading: Promise<void> | null = null;
  /** false until the first load has finished */
  loaded = false;

  get size(): number {
    return this.sorted.length + this.added.size - this.removed.size;
  }

  has(hash: string): boolean {
    const p = prefixOf(hash);
    return this.added.has(p) || (!this.removed.has(p) && contains(this.sorted, p));
  }

  add(hash: string): void {
    const p = prefixOf(hash);
    this.journal?.push([true, p]);
    this.removed.delete(p);
    if (!contains(this.sorted, p)) this.added.add(p);
    if (this.added.size > MERGE_AT) this.merge();
  }

  remove(hash: string): void {
    const p = prefixOf(hash);
    this.journal?.push([false, p]);
    this.added.delete(p);
    if (contains(this.sorted, p)) this.removed.add(p);
    if (this.removed.size > MERGE_AT) this.merge();
  }

  /** Replaces the contents with `sorted`, then replays the changes that arrived meanwhile. */
  replace(sorted: BigUint64Array): void {
    const journal = this.journal ?? [];
    this.journal = null;
    this.sorted = sorted;
    this.added.clear();
    this.removed.clear();
    for (const [add, p] of journal) {
      if (add) {
        this.removed.delete(p);
        if (!contains(this.sorted, p)) this.added.add(p);
      } else {
        this.added.delete(p);
        if (contains(this.sorted, p)) this.removed.add(p);
      }
    }
    this.merge();
    this.loaded = true;
  }

  /**
   * Reads every live hash (ordered by hash: already sorted by prefix) in pages, and replaces the
   * contents. Changes that arrive while it reads are journaled and replayed after: start listening
   * for changes before the first reload. Concurrent calls share one reload.
   */
  reload(prisma: PrismaClient): Promise<void> {
    this.reloading ??= (async () => {
      this.journal = [];
      try {
        this.replace(await readLivePrefixes(prisma));
      } finally {
        this.journal = null;
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  private merge(): void {
    if (this.added.size === 0 && this.removed.size === 0) return;
    const next = new BigUint64Array(this.sorted.length + this.added.size);
    let n = 0;
    for (const v of this.sorted) if (!this.removed.has(v)) next[n++] = v;
    for (const v of this.added) next[n++] = v;
    const merged = next.subarray(0, n).sort();
    this.sorted = merged.length === next.length ? merged : merged.slice();
    this.added.clear();
    this.removed.clear();
  }
}

/**
 * Every live key's hash prefix, sorted. One statement (one snapshot) with no ORDER BY: a
 * sequential scan concatenates the 16-hex-digit prefixes into one text (16 MB per million keys),
 * decoded and sorted here. Paging in hash order instead walked the hash index with a heap visit
 * per key (5.2–6.4 s for a million keys); a bytea came back through the driver adapter far slower
 * than text, and a hex regex per row in SQL cost 0.7 s (bench/key-index-load.ts).
 */
export async function readLivePrefixes(prisma: PrismaClient): Promise<BigUint64Array> {
  const [row] = await prisma.$queryRawUnsafe<{ prefixes: string | null }[]>(
    // rpad keeps every entry 16 characters long whatever was stored (a hand-written short hash).
    // A previous secret during its overlap (SPEC §5) is live too: a second, partial-index scan.
    `SELECT string_agg(rpad(substr(h, 1, 16), 16, '-'), '') AS prefixes FROM (
       SELECT "hash" AS h FROM "ApiKey" WHERE "status" <> 'REVOKED'
       UNION ALL
       SELECT "previousHash" FROM "ApiKey"
        WHERE "previousHash" IS NOT NULL AND "previousSecretExpiresAt" > now() AND "status" <> 'REVOKED'
     ) AS live`,
  );
  const text = row?.prefixes ?? '';
  const count = Math.floor(text.length / 16);
  const out = new BigUint64Array(count);
  if (/^[0-9a-f]*$/.test(text)) {
    const bytes = Buffer.from(text, 'hex');
    for (let i = 0; i < count; i++) out[i] = bytes.readBigUInt64BE(i * 8);
    return out.sort();
  }
  // Some stored hash is not a hex digest: keep the others (such a key gets no index entry).
  let n = 0;
  for (let i = 0; i < count; i++) {
    const chunk = text.slice(i * 16, i * 16 + 16);
    if (HEX_HEAD.test(chunk)) out[n++] = BigInt(`0x${chunk}`);
  }
  return out.subarray(0, n).sort().slice();
}
