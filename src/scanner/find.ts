// Finding keys in text, offline: every kp_/kpc_/kps_ candidate, kept only when its checksum is
// right (SPEC §2), so that nothing else ever costs a database read. Pure: the server's intake and
// the scan CLI share it.
import type { KeyKind } from '../generated/prisma/enums.js';
import { KEY_PATTERN, parseKey } from '../keys/format.js';

export interface FoundKey {
  key: string;
  kind: KeyKind;
  /** 1-based line and column of the key's first character */
  line: number;
  column: number;
}

export function findKeys(text: string): FoundKey[] {
  const found: FoundKey[] = [];
  // Lines are counted incrementally between matches: one pass over the text in all.
  let line = 1;
  let lineStart = 0;
  let counted = 0;
  for (const match of text.matchAll(KEY_PATTERN)) {
    const parsed = parseKey(match[0]);
    if (!parsed.ok) continue;
    const at = match.index;
    for (let i = text.indexOf('\n', counted); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) {
      line += 1;
      lineStart = i + 1;
    }
    counted = at;
    found.push({ key: parsed.key, kind: parsed.kind, line, column: at - lineStart + 1 });
  }
  return found;
}
