// `npx keyplane scan`: output (file:line:column and the hint, never the key), exit codes,
// .gitignore, binaries, node_modules, stdin, and --report to a real server.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/keys/format.js';
import { addUser } from '../helpers/fixtures.js';
import { keyplaneCli } from '../helpers/process.js';
import { useTestServer } from '../helpers/server.js';

let tree: string;
const visible = generateKey('PERSONAL');
const shared = generateKey('COLLECTION_ACCESS');
const hidden = generateKey('PERSONAL');
const reincluded = generateKey('SCIM');

beforeAll(async () => {
  tree = await mkdtemp(path.join(tmpdir(), 'keyplane-scan-'));
  await mkdir(path.join(tree, 'src/deep'), { recursive: true });
  await mkdir(path.join(tree, 'node_modules/pkg'), { recursive: true });
  await mkdir(path.join(tree, 'build'), { recursive: true });
  await writeFile(path.join(tree, '.gitignore'), 'build/\n*.log\n');
  await writeFile(path.join(tree, 'src/app.ts'), `import x from 'y';\nconst key = "${visible}";\n`);
  await writeFile(path.join(tree, 'src/deep/readme.md'), `# Share\n\nUse \`${shared}\` to read it.\n`);
  await writeFile(path.join(tree, 'src/deep/.gitignore'), 'local.env\n!important.log\n');
  await writeFile(path.join(tree, 'src/deep/important.log'), `re-included: ${reincluded}\n`);
  await writeFile(path.join(tree, 'src/deep/local.env'), `KEY=${hidden}\n`);
  await writeFile(path.join(tree, 'build/out.js'), hidden);
  await writeFile(path.join(tree, 'debug.log'), hidden);
  await writeFile(path.join(tree, 'node_modules/pkg/index.js'), hidden);
  await writeFile(path.join(tree, 'image.bin'), Buffer.concat([Buffer.from([0, 1, 2, 3, 0, 255]), Buffer.from(hidden)]));
  await writeFile(path.join(tree, 'fake.txt'), `kp_${'x'.repeat(36)} and kp_${'A1'.repeat(18)}\n`);
});
afterAll(() => rm(tree, { recursive: true, force: true }));

describe('keyplane scan', () => {
  it('prints file:line:column and the hint of each real key, and exits 1', async () => {
    const result = await keyplaneCli(['scan', tree], {});
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toEqual([
      `${path.join(tree, 'src/app.ts')}:2:14: kp_…${visible.slice(-4)} (personal key)`,
      `${path.join(tree, 'src/deep/important.log')}:1:14: kps_…${reincluded.slice(-4)} (scim key)`,
      `${path.join(tree, 'src/deep/readme.md')}:3:6: kpc_…${shared.slice(-4)} (collection access key)`,
    ]);
    for (const key of [visible, shared, hidden, reincluded]) {
      expect(result.stdout + result.stderr).not.toContain(key);
    }
    expect(result.stderr).toMatch(/3 key\(s\) in \d+ file\(s\).*1 binary skipped/);
  });

  it('exits 0 on a clean tree and 2 on a path that does not exist', async () => {
    const clean = await keyplaneCli(['scan', path.join(tree, 'fake.txt')], {});
    expect(clean).toMatchObject({ code: 0, stdout: '' });
    expect((await keyplaneCli(['scan', path.join(tree, 'missing')], {})).code).toBe(2);
  });

  it('reads stdin with -', async () => {
    const result = await keyplaneCli(['scan', '-'], {}, `line one\nsecret ${visible}\n`);
    expect(result.code).toBe(1);
    expect(result.stdout.trim()).toBe(`-:2:8: kp_…${visible.slice(-4)} (personal key)`);
  });

  describe('--report', () => {
    const server = useTestServer();

    it("sends each finding to the server's reportExposedApiKeys with an admin key", async () => {
      const member = await addUser(server, server.teamId);
      const file = path.join(tree, 'src/leak.txt');
      await writeFile(file, `token=${member.key}\n`);
      try {
        const result = await keyplaneCli(['scan', file, '--report', server.url], { KEYPLANE_API_KEY: server.adminKey });
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('reported 1 finding(s)');
        const exposures = await server.services.prisma.apiKeyExposure.findMany({ where: { keyId: member.apiKey.id } });
        expect(exposures.map((e) => e.location)).toEqual([`${file}:1:7`]);
      } finally {
        await rm(file);
      }
    });
  });
});
