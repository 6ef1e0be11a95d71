// The key format of SPEC §2: prefix + 30 random base62 characters + 6-character CRC32 checksum.
// Everything here is pure (no I/O) so that the scanner and the hot path can reject bad keys early.
import { createHmac, hash, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { KeyKind } from '../generated/prisma/enums.js';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 30;
const CHECKSUM_LENGTH = 6;
export const KEY_BODY_LENGTH = RANDOM_LENGTH + CHECKSUM_LENGTH;

export const PREFIX_BY_KIND = {
  PERSONAL: 'kp_',
  COLLECTION_ACCESS: 'kpc_',
  SCIM: 'kps_',
} as const satisfies Record<KeyKind, string>;

const KIND_BY_PREFIX = new Map(Object.entries(PREFIX_BY_KIND).map(([kind, prefix]) => [prefix, kind as KeyKind]));

/** Matches every key of every kind in free text (the scanner's pattern). */
export const KEY_PATTERN = /\bkp[cs]?_[0-9A-Za-z]{36}\b/g;
const WHOLE_KEY = /^(kp[cs]?_)([0-9A-Za-z]{36})$/;

/** base62 of a 32-bit unsigned value, most significant digit first, left-padded with "0". */
export function checksumOf(randomPart: string): string {
  let value = crc32(randomPart);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

export function generateKey(kind: KeyKind): string {
  let random = '';
  // randomInt draws from the CSPRNG without modulo bias.
  for (let i = 0; i < RANDOM_LENGTH; i++) random += BASE62[randomInt(62)];
  return PREFIX_BY_KIND[kind] + random + checksumOf(random);
}

export type KeyParseResult = { ok: true; kind: KeyKind; key: string } | { ok: false; problem: 'malformed' | 'checksum' };

/** Checks shape and checksum offline: no database is needed to reject a typo or a forgery. */
export function parseKey(candidate: string): KeyParseResult {
  const match = WHOLE_KEY.exec(candidate);
  if (!match) return { ok: false, problem: 'malformed' };
  const [, prefix, body] = match;
  const random = body.slice(0, RANDOM_LENGTH);
  if (checksumOf(random) !== body.slice(RANDOM_LENGTH)) return { ok: false, problem: 'checksum' };
  return { ok: true, kind: KIND_BY_PREFIX.get(prefix as (typeof PREFIX_BY_KIND)[KeyKind])!, key: candidate };
}

/**
 * The stored form of a key. 178 bits of randomness make brute force hopeless, so a fast hash is
 * enough (a slow KDF would only slow every request); the optional pepper keeps a stolen database
 * from being checked against leaked keys without the server's secret as well.
 */
export function hashKey(key: string, pepper?: string): string {
  return pepper ? createHmac('sha256', pepper).update(key).digest('hex') : hash('sha256', key, 'hex'); // one-shot: less than half the cost of createHash() per request
}

/** The last 4 characters: shown as `kp_…Xy9Q` and searchable by admins. */
export function hintOf(key: string): string {
  return key.slice(-4);
}

export function displayHint(kind: KeyKind, hint: string): string {
  return `${PREFIX_BY_KIND[kind]}…${hint}`;
}
