// Seals secrets that must be read back (webhook signing secrets; SPEC §5 ENCRYPTION_KEY):
// AES-256-GCM with a fresh 12-byte nonce per seal, bound to what the secret belongs to (the
// associated data, e.g. the endpoint's id: a sealed value copied to another row does not open).
// Keys are hashed, never sealed: a key is only ever compared.
//
// The key is ENCRYPTION_KEY, or else a key file generated once in DATA_DIR (0600). Several
// instances sharing one database must share the key: set ENCRYPTION_KEY (a sealed value names
// the key that sealed it, so a mismatch is reported as such rather than as corrupt data).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmod, constants, mkdir, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_FILE_NAME = 'encryption.key';

export class SecretBoxError extends Error {}

export class SecretBox {
  /** names the key in every sealed value (not secret: 8 hex digits of its SHA-256) */
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new SecretBoxError('an encryption key is 32 bytes');
    this.keyId = createHash('sha256').update('keyplane-secret-box').update(key).digest('hex').slice(0, 8);
  }

  /** `v1.<keyId>.<base64url(nonce | ciphertext | tag)>` */
  seal(secret: string, boundTo: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(boundTo));
    const sealed = Buffer.concat([nonce, cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${this.keyId}.${sealed.toString('base64url')}`;
  }

  open(sealed: string, boundTo: string): string {
    const [version, keyId, data] = sealed.split('.');
    if (version !== VERSION || !keyId || !data) throw new SecretBoxError('not a sealed secret');
    if (keyId !== this.keyId) {
      throw new SecretBoxError(
        `sealed under another encryption key (${keyId}, this instance has ${this.keyId}): set the same ENCRYPTION_KEY on every instance`,
      );
    }
    const bytes = Buffer.from(data, 'base64url');
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new SecretBoxError('not a sealed secret');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, NONCE_BYTES));
      decipher.setAAD(Buffer.from(boundTo));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('a sealed secret did not open (altered, or bound to another record)');
    }
  }
}

/**
 * The instance's box: ENCRYPTION_KEY when set, else DATA_DIR/encryption.key (created with mode
 * 0600 on first use; one that others may read is tightened, with a warning).
 */
export async function openSecretBox(options: { encryptionKey?: Buffer; dataDir: string; log: Logger }): Promise<SecretBox> {
  if (options.encryptionKey) return new SecretBox(options.encryptionKey);
  const file = path.join(options.dataDir, KEY_FILE_NAME);
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  try {
    const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    const key = randomBytes(32);
    try {
      await handle.writeFile(`${key.toString('base64')}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    options.log.info({ file }, 'generated an encryption key for sealed secrets (set ENCRYPTION_KEY to share one between instances)');
    return new SecretBox(key);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const { mode } = await stat(file);
  if (mode & 0o077) {
    options.log.warn({ file }, 'the encryption key file was readable by others: made it 0600');
    await chmod(file, 0o600);
  }
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
  if (key.length !== 32) throw new SecretBoxError(`${file} does not hold a 32-byte base64 key`);
  return new SecretBox(key);
}
