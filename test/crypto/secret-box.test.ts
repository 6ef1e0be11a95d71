import { randomBytes } from 'node:crypto';
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { KEY_FILE_NAME, openSecretBox, SecretBox } from '../../src/crypto/secret-box.js';
import { makeDataDir } from '../helpers/server.js';

const log = pino({ level: 'silent' });
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function dataDir() {
  const dir = await makeDataDir();
  dirs.push(dir);
  return dir;
}

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('opens what it sealed, for the record it was bound to only, and never shows the secret', () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const sealed = box.seal(secret, 'endpoint-1');
    expect(sealed).toMatch(/^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(secret.slice(6, 20));
    expect(box.open(sealed, 'endpoint-1')).toBe(secret);
    // Two seals of one secret differ (a fresh nonce each).
    expect(box.seal(secret, 'endpoint-1')).not.toBe(sealed);
    expect(() => box.open(sealed, 'endpoint-2')).toThrow(/did not open/);
  });

  it('refuses an altered value, and names the key when another one sealed it', () => {
    const sealed = box.seal('whsec_x', 'e');
    const [v, id, data] = sealed.split('.');
    const bytes = Buffer.from(data!, 'base64url');
    bytes[bytes.length - 20]! ^= 1;
    expect(() => box.open(`${v}.${id}.${bytes.toString('base64url')}`, 'e')).toThrow(/did not open/);
    const other = new SecretBox(randomBytes(32));
    expect(() => other.open(sealed, 'e')).toThrow(/another encryption key.*ENCRYPTION_KEY/);
    expect(() => box.open('whsec_plain', 'e')).toThrow(/not a sealed secret/);
  });
});

describe('the key', () => {
  it('is generated once in DATA_DIR with mode 0600, and the same key opens after a restart', async () => {
    const dir = await dataDir();
    const first = await openSecretBox({ dataDir: dir, log });
    const file = path.join(dir, KEY_FILE_NAME);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const sealed = first.seal('whsec_abc', 'e');
    const again = await openSecretBox({ dataDir: dir, log });
    expect(again.keyId).toBe(first.keyId);
    expect(again.open(sealed, 'e')).toBe('whsec_abc');
  });

  it('tightens a key file others may read, and refuses one that holds no key', async () => {
    const dir = await dataDir();
    await openSecretBox({ dataDir: dir, log });
    const file = path.join(dir, KEY_FILE_NAME);
    await chmod(file, 0o644);
    await openSecretBox({ dataDir: dir, log });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await writeFile(file, 'short\n');
    await expect(openSecretBox({ dataDir: dir, log })).rejects.toThrow(/32-byte/);
  });

  it('ENCRYPTION_KEY wins over the file: hex or base64 of 32 bytes; anything else stops the start without echoing it', async () => {
    const dir = await dataDir();
    const key = randomBytes(32);
    for (const text of [key.toString('hex'), key.toString('base64')]) {
      const config = loadConfig({ DATA_DIR: dir, ENCRYPTION_KEY: text });
      const box = await openSecretBox({ encryptionKey: config.encryptionKey, dataDir: dir, log });
      expect(box.keyId).toBe(new SecretBox(key).keyId);
    }
    await expect(readFile(path.join(dir, KEY_FILE_NAME))).rejects.toThrow(/ENOENT/);
    for (const bad of ['tooshort', randomBytes(16).toString('hex'), `${randomBytes(32).toString('hex')}zz`]) {
      let message = '';
      try {
        loadConfig({ ENCRYPTION_KEY: bad });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/ENCRYPTION_KEY: must be 32 bytes/);
      expect(message).not.toContain(bad);
    }
  });
});
