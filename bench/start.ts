// `npm run bench:start` (issue 20): warm start and idle memory, TypeScript through tsx (the old
// `npm start`, still `npm run dev`'s loader) against the compiled dist/ (`npm start`), on the
// embedded default. One DATA_DIR, initialised by a first start that is not counted, so every
// measured start is a restart (no initdb); the two commands alternate, BENCH_ROUNDS each (5).
// Per start: spawn → the "Keyplane listening" line (wall clock; and the server process's CPU time
// by then, which a busy machine inflates less), and the server process's RSS (VmRSS; the embedded
// PostgreSQL's processes are not counted) after BENCH_IDLE_MS (3000) idle.
// Needs dist/ (`npm run build`). BENCH_TSX_ROOT: another checkout to run the tsx start from (an
// older commit, with node_modules and src/generated in place), to compare across commits.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = path.resolve(import.meta.dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 3000);
const TSX_ROOT = process.env.BENCH_TSX_ROOT ? path.resolve(process.env.BENCH_TSX_ROOT) : ROOT;

const commands = {
  tsx: ['--import', 'tsx', 'src/main.ts'],
  compiled: ['--enable-source-maps', 'dist/main.js'],
} as const;
type Variant = keyof typeof commands;

interface StartResult {
  listeningMs: number;
  cpuMs: number;
  rssMiB: number;
}

async function startOnce(variant: Variant, dataDir: string): Promise<StartResult> {
  const began = performance.now();
  const child = spawn(process.execPath, commands[variant], {
    cwd: variant === 'tsx' ? TSX_ROOT : ROOT,
    env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const [listeningMs, cpuMs] = await new Promise<[number, number]>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Keyplane listening on ')) {
          const wall = performance.now() - began;
          cpuTimeMs(child).then((cpu) => resolve([wall, cpu]), reject);
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      void exited.then(() => reject(new Error(`${variant} exited before listening:\n${out}`)));
    });
    await sleep(IDLE_MS);
    return { listeningMs, cpuMs, rssMiB: await rssMiB(child) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

async function rssMiB(child: ChildProcess): Promise<number> {
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return kib / 1024;
}

/** utime + stime (/proc/<pid>/stat fields 14 and 15, in clock ticks of 10 ms). */
async function cpuTimeMs(child: ChildProcess): Promise<number> {
  const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

async function main() {
  if (!existsSync(path.join(ROOT, 'dist/main.js'))) {
    console.error('dist/main.js is missing: run `npm run build` first');
    process.exit(3);
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'keyplane-bench-start-'));
  await chmod(dataDir, 0o755); // as root, the embedded PostgreSQL runs as an unprivileged user
  try {
    const first = await startOnce('compiled', dataDir);
    console.log(`first start (initdb, not counted): ${first.listeningMs.toFixed(0)} ms`);
    const results: Record<Variant, StartResult[]> = { tsx: [], compiled: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternating, and each round in the other order: a busy moment on the machine hits both.
      const order: Variant[] = round % 2 ? ['tsx', 'compiled'] : ['compiled', 'tsx'];
      for (const variant of order) {
        const result = await startOnce(variant, dataDir);
        results[variant].push(result);
        console.log(
          `round ${round} ${variant.padEnd(8)} listening ${result.listeningMs.toFixed(0).padStart(5)} ms  CPU ${String(result.cpuMs).padStart(5)} ms  RSS ${result.rssMiB.toFixed(1)} MiB`,
        );
      }
    }
    const summary = (variant: Variant) => {
      const ms = results[variant].map((r) => r.listeningMs);
      const rss = results[variant].map((r) => r.rssMiB);
      return {
        cpu: median(results[variant].map((r) => r.cpuMs)),
        ms: median(ms),
        msRange: `${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)}`,
        rss: median(rss),
        rssRange: `${Math.min(...rss).toFixed(1)}–${Math.max(...rss).toFixed(1)}`,
      };
    };
    const tsx = summary('tsx');
    const compiled = summary('compiled');
    console.log(`\nmedian of ${ROUNDS}        warm start (range)          RSS at idle (range)       CPU to listening`);
    for (const [name, s] of [
      ['tsx', tsx],
      ['compiled', compiled],
    ] as const) {
      const start = `${name.padEnd(18)} ${s.ms.toFixed(0).padStart(5)} ms (${s.msRange})`;
      console.log(`${`${start.padEnd(47)}${s.rss.toFixed(1)} MiB (${s.rssRange})`.padEnd(73)}${s.cpu} ms`);
    }
    console.log(
      `compiled / tsx     start ${(compiled.ms / tsx.ms).toFixed(2)} (${(tsx.ms / compiled.ms).toFixed(1)}× faster), RSS ${(compiled.rss / tsx.rss).toFixed(2)}, CPU ${(compiled.cpu / tsx.cpu).toFixed(2)}`,
    );
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
