// The server and the CLI as a user runs them: separate processes.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  bootstrapKey: string | null;
  output: () => string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** `nodeArgs`: the TypeScript sources through tsx unless given (the compiled start passes its own). */
export function spawnServer(env: Record<string, string>, nodeArgs = ['--import', 'tsx', 'src/main.ts']): Promise<ServerProcess> {
  const child = spawn(process.execPath, nodeArgs, {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let seen = false;
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const listening = /Keyplane listening on (http:\/\/\S+\/graphql)/.exec(out);
      if (!listening || seen) return;
      seen = true;
      // The bootstrap line (if any) is printed right after the listening line.
      setTimeout(() => {
        child.stdout!.off('data', onData);
        child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
        resolve({
          child,
          url: listening[1],
          bootstrapKey: /Bootstrap admin key: (kp_[0-9A-Za-z]{36})/.exec(out)?.[1] ?? null,
          output: () => out,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }, 100);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${out}`)));
  });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (`npx keyplane …`, or the server when it should refuse to start). */
export function run(command: string, args: string[], env: Record<string, string>, timeoutMs = 60_000, input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: '', ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (input !== undefined) child.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} timed out:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * `npx keyplane …`: the bin's own file (node_modules/.bin/keyplane links to it), from this
 * checkout: in a git worktree node_modules is shared, and its link leads to another checkout's code.
 */
export const keyplaneCli = (args: string[], env: Record<string, string>, input?: string) =>
  run(process.execPath, [path.join(ROOT, 'cli/keyplane.mjs'), ...args], env, 60_000, input);

export const startServerExpectingFailure = (env: Record<string, string>) => run(process.execPath, ['--import', 'tsx', 'src/main.ts'], env);

/** A TCP port that was free a moment ago (for servers a test starts and stops itself). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
