// The file side of `keyplane scan`: walks paths (respecting .gitignore files, skipping binaries,
// node_modules and .git) and finds keys with valid checksums in each file. No database, no
// network: it works as a pre-commit hook or a CI step on any checkout.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { isBinaryFileSync } from 'isbinaryfile';
import { type FoundKey, findKeys } from './find.js';

export interface Finding extends FoundKey {
  file: string;
}

export interface ScanTotals {
  files: number;
  bytes: number;
  skippedBinary: number;
}

const ALWAYS_SKIPPED = new Set(['node_modules', '.git']);
const PARALLEL_READS = 16;

interface IgnoreRule {
  base: string;
  rules: Ignore;
}

async function gitignoreIn(dir: string): Promise<IgnoreRule | null> {
  try {
    return { base: dir, rules: ignore().add(await readFile(path.join(dir, '.gitignore'), 'utf8')) };
  } catch {
    return null;
  }
}

/** Like git: the deepest .gitignore that has a say decides, so a nested `!file` re-includes it. */
function ignored(rules: IgnoreRule[], file: string, isDir: boolean): boolean {
  for (let i = rules.length - 1; i >= 0; i -= 1) {
    const { base, rules: r } = rules[i]!;
    const relative = path.relative(base, file).split(path.sep).join('/');
    if (relative === '' || relative.startsWith('..')) continue;
    const verdict = r.test(isDir ? `${relative}/` : relative);
    if (verdict.ignored) return true;
    if (verdict.unignored) return false;
  }
  return false;
}

/** Every file to scan below `root` (a named file is always scanned). */
async function* filesUnder(root: string, rules: IgnoreRule[] = []): AsyncGenerator<string> {
  const info = await stat(root);
  if (!info.isDirectory()) {
    yield root;
    return;
  }
  const own = await gitignoreIn(root);
  const active = own ? [...rules, own] : rules;
  const entries = await readdir(root, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) {
      if (ALWAYS_SKIPPED.has(entry.name) || ignored(active, full, true)) continue;
      yield* filesUnder(full, active);
    } else if (entry.isFile() && !ignored(active, full, false)) {
      yield full;
    }
  }
}

export function scanText(text: string, file: string): Finding[] {
  return findKeys(text).map((f) => ({ ...f, file }));
}

/** Scans files and folders; findings come back in path order. */
export async function scanPaths(paths: string[]): Promise<{ findings: Finding[]; totals: ScanTotals }> {
  const totals: ScanTotals = { files: 0, bytes: 0, skippedBinary: 0 };
  const files: string[] = [];
  for (const root of paths) for await (const file of filesUnder(root)) files.push(file);
  const perFile: Finding[][] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const index = next++;
      const file = files[index]!;
      const content = await readFile(file);
      if (isBinaryFileSync(content)) {
        totals.skippedBinary += 1;
        perFile[index] = [];
        continue;
      }
      totals.files += 1;
      totals.bytes += content.length;
      // Most files hold no key prefix at all: a byte search skips their decoding and regex.
      const maybe = content.includes('kp_') || content.includes('kpc_') || content.includes('kps_');
      perFile[index] = maybe ? scanText(content.toString('utf8'), file) : [];
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_READS }, worker));
  return { findings: perFile.flat(), totals };
}
