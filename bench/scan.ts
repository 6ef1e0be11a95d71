// `npm run bench:scan`: `keyplane scan` over a generated 100 MB tree (2,000 source-like files of
// 50 KB, one key in every tenth, a .gitignore'd folder and node_modules it must skip), against
// `grep -rE` with the same pattern on the same tree in the same run (grep checks no checksum
// and reads every file). Files/s and MB/s for both, and the ratio.
//   SCAN_MB=100 npm run bench:scan
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateKey } from '../src/keys/format.js';
import { findKeys } from '../src/scanner/find.js';

const MB = Number(process.env.SCAN_MB ?? 100);
const FILE_KB = 50;
const FILES = Math.round((MB * 1024) / FILE_KB);
const ROOT = path.resolve(import.meta.dirname, '..');

const tree = await mkdtemp(path.join(tmpdir(), 'keyplane-scan-bench-'));
const line = 'export function handler(request: Request): Promise<Response> { return fetch(request); } // lorem ipsum\n';
const body = line.repeat(Math.ceil((FILE_KB * 1024) / line.length)).slice(0, FILE_KB * 1024);
for (let i = 0; i < FILES; i++) {
  const dir = path.join(tree, `pkg${i % 40}`, `mod${i % 7}`);
  await mkdir(dir, { recursive: true });
  const text = i % 10 === 0 ? body.slice(0, 20_000) + `\nconst key = "${generateKey('PERSONAL')}";\n` + body.slice(20_000) : body;
  await writeFile(path.join(dir, `file${i}.ts`), text);
}
await mkdir(path.join(tree, 'node_modules/dep'), { recursive: true });
await writeFile(path.join(tree, 'node_modules/dep/index.js'), body);
await writeFile(path.join(tree, '.gitignore'), 'dist/\n');
await mkdir(path.join(tree, 'dist'), { recursive: true });
await writeFile(path.join(tree, 'dist/bundle.js'), body);
execFileSync('sync');

function timed(command: string, args: string[]): { seconds: number; lines: number } {
  const started = performance.now();
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0 && result.status !== 1) throw new Error(`${command} failed: ${result.stderr}`);
  return { seconds, lines: result.stdout.trim().split('\n').filter(Boolean).length };
}

const rows: string[] = [];
const ratios: number[] = [];
for (let round = 0; round < 3; round += 1) {
  const grep = timed('grep', ['-rnoE', '\\bkp[cs]?_[0-9A-Za-z]{36}\\b', tree]);
  const scan = timed(process.execPath, [path.join(ROOT, 'cli/keyplane.mjs'), 'scan', tree]);
  ratios.push(grep.seconds / scan.seconds);
  rows.push(
    `round ${round + 1}: keyplane scan ${scan.seconds.toFixed(2)} s (${(FILES / scan.seconds).toFixed(0)} files/s, ${(MB / scan.seconds).toFixed(0)} MB/s, ${scan.lines} keys) · ` +
      `grep -rE ${grep.seconds.toFixed(2)} s (${(MB / grep.seconds).toFixed(0)} MB/s, ${grep.lines} matches)`,
  );
}
await rm(tree, { recursive: true, force: true });

// The core alone, as the server's intake runs it: 10 MB of text with 1,000 candidates (half of
// them real keys, half with a wrong checksum), best of 5.
const filler = 'lorem ipsum dolor sit amet, consectetur adipiscing elit '.repeat(200).slice(0, 10_000);
const parts: string[] = [];
for (let i = 0; i < 1_000; i++) parts.push(filler, i % 2 ? generateKey('PERSONAL') : `kp_${'A'.repeat(36)}`);
const tenMb = parts.join('\n');
let best = Infinity;
let found = 0;
for (let i = 0; i < 5; i++) {
  const started = performance.now();
  found = findKeys(tenMb).length;
  best = Math.min(best, performance.now() - started);
}
console.log(
  `findKeys: ${(tenMb.length / 1e6).toFixed(1)} MB with 1,000 candidates in ${best.toFixed(0)} ms (${found} with a valid checksum)`,
);
console.log(`${FILES} files, ${MB} MB (+ skipped node_modules and .gitignore'd dist)`);
for (const row of rows) console.log(row);
console.log(`speed keyplane / grep: ${ratios.map((r) => r.toFixed(2)).join(', ')} (above 1 = faster than grep)`);
