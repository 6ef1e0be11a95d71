import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BASE62, checksumOf, displayHint, generateKey, hashKey, hintOf, KEY_PATTERN, parseKey } from '../../src/keys/format.js';

// An independent base62 encoder (BigInt, most significant digit first) to check SPEC §2's encoding.
function base62Padded(n: number): string {
  let v = BigInt(n);
  const digits: string[] = [];
  while (v > 0n) {
    digits.unshift(BASE62[Number(v % 62n)]);
    v /= 62n;
  }
  return digits.join('').padStart(6, '0');
}

describe('key format (SPEC §2)', () => {
  it('uses the alphabet 0-9A-Za-z in that order', () => {
    expect(BASE62[0]).toBe('0');
    expect(BASE62[10]).toBe('A');
    expect(BASE62[36]).toBe('a');
    expect(BASE62).toHaveLength(62);
  });

  it('computes the checksum as CRC32 (IEEE) in base62, left-padded to 6', () => {
    // CRC32("123456789") is the standard check value 0xCBF43926.
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(checksumOf('123456789')).toBe(base62Padded(0xcbf43926));
    // A small CRC shows the padding: find one below 62^5 among short inputs.
    const small = Array.from({ length: 5000 }, (_, i) => `x${i}`).find((s) => crc32(s) < 62 ** 5)!;
    expect(checksumOf(small)).toMatch(/^0/);
    expect(checksumOf(small)).toBe(base62Padded(crc32(small)));
  });

  it('generates 39-character kp_ keys with the right prefix per kind', () => {
    const personal = generateKey('PERSONAL');
    expect(personal).toMatch(/^kp_[0-9A-Za-z]{36}$/);
    expect(personal).toHaveLength(39);
    expect(generateKey('COLLECTION_ACCESS')).toMatch(/^kpc_[0-9A-Za-z]{36}$/);
    expect(generateKey('SCIM')).toMatch(/^kps_[0-9A-Za-z]{36}$/);
    expect(checksumOf(personal.slice(3, 33))).toBe(personal.slice(33));
  });

  it('every generated key parses, with its kind', () => {
    fc.assert(
      fc.property(fc.constantFrom('PERSONAL', 'COLLECTION_ACCESS', 'SCIM' as const), (kind) => {
        const key = generateKey(kind);
        expect(parseKey(key)).toEqual({ ok: true, kind, key });
        expect(key.match(KEY_PATTERN)).toEqual([key]);
      }),
      { numRuns: 2000 },
    );
  });

  it('random 39-character kp_ strings almost never pass the checksum', () => {
    const body = fc.string({ unit: fc.constantFrom(...BASE62), minLength: 36, maxLength: 36 });
    let passed = 0;
    fc.assert(
      fc.property(body, (b) => {
        const r = parseKey(`kp_${b}`);
        if (r.ok) passed += 1;
        else expect(r.problem).toBe('checksum');
      }),
      { numRuns: 20_000 },
    );
    // A random 6-digit checksum matches with probability 2^32/62^6 ≈ 1 in 13 million per try.
    expect(passed).toBe(0);
  });

  it('a single changed character is caught', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 38 }), fc.constantFrom(...BASE62), (pos, ch) => {
        const key = generateKey('PERSONAL');
        fc.pre(key[pos] !== ch);
        const tampered = key.slice(0, pos) + ch + key.slice(pos + 1);
        expect(parseKey(tampered).ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects shapes that are not keys as malformed', () => {
    for (const bad of ['', 'kp_', 'kp_123', `kx_${'a'.repeat(36)}`, `kp_${'a'.repeat(35)}!`, `kp_${'a'.repeat(37)}`]) {
      expect(parseKey(bad)).toEqual({ ok: false, problem: 'malformed' });
    }
  });

  it('hashes with SHA-256, or HMAC-SHA256 with a pepper; shows the last 4 as the hint', () => {
    const key = generateKey('PERSONAL');
    expect(hashKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashKey(key, 'pepper-pepper-pepper')).not.toBe(hashKey(key));
    expect(hashKey(key, 'pepper-pepper-pepper')).toBe(hashKey(key, 'pepper-pepper-pepper'));
    expect(hintOf(key)).toBe(key.slice(-4));
    expect(displayHint('PERSONAL', hintOf(key))).toBe(`kp_…${key.slice(-4)}`);
  });
});
