// `keyplane scan PATH…`: prints file:line:column and the hint of every key with a valid checksum
// (never the key), exits 1 when any is found and 0 otherwise; `-` reads stdin. With --report the
// findings go to a Keyplane server's reportExposedApiKeys (an admin key in --key or
// KEYPLANE_API_KEY).
import { text } from 'node:stream/consumers';
import { displayHint, hintOf } from '../keys/format.js';
import { type Finding, scanPaths, scanText } from '../scanner/scan-files.js';

export interface ScanOptions {
  report?: string;
  key?: string;
}

const REPORT = `mutation KeyplaneScanReport($text: String!, $location: String!) {
  reportExposedApiKeys(text: $text, location: $location) { id }
}`;

async function report(url: string, key: string, finding: Finding): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({
        query: REPORT,
        variables: { text: finding.key, location: `${finding.file}:${finding.line}:${finding.column}` },
      }),
    });
    if (res.status === 429 && attempt < 5) {
      await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000));
      continue;
    }
    const body = (await res.json()) as { errors?: { message: string }[] };
    if (res.status !== 200 || body.errors?.length) {
      throw new Error(`the server refused the report (HTTP ${res.status}): ${body.errors?.map((e) => e.message).join('; ') ?? ''}`);
    }
    return;
  }
}

/** Returns the exit code. */
export async function runScan(paths: string[], options: ScanOptions): Promise<number> {
  const started = performance.now();
  const findings: Finding[] = [];
  const files = paths.filter((p) => p !== '-');
  if (paths.includes('-')) findings.push(...scanText(await text(process.stdin), '-'));
  const scanned = await scanPaths(files);
  findings.push(...scanned.findings);
  for (const f of findings) {
    process.stdout.write(
      `${f.file}:${f.line}:${f.column}: ${displayHint(f.kind, hintOf(f.key))} (${f.kind.toLowerCase().replace('_', ' ')} key)\n`,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  const { totals } = scanned;
  process.stderr.write(
    `keyplane scan: ${findings.length} key(s) in ${totals.files} file(s), ${(totals.bytes / 1e6).toFixed(1)} MB, ` +
      `${totals.skippedBinary} binary skipped, ${seconds.toFixed(2)} s\n`,
  );
  if (options.report && findings.length) {
    const key = options.key ?? process.env.KEYPLANE_API_KEY;
    if (!key) throw new Error('--report needs an admin key: --key or KEYPLANE_API_KEY');
    for (const finding of findings) await report(options.report, key, finding);
    process.stderr.write(`keyplane scan: reported ${findings.length} finding(s) to ${options.report}\n`);
  }
  return findings.length ? 1 : 0;
}
