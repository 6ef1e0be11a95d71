// The scanner's offline core: candidates by pattern, kept only with a valid checksum, with their
// line and column.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BASE62, generateKey } from '../../src/keys/format.js';
import { findKeys } from '../../src/scanner/find.js';

describe('findKeys', () => {
  it('finds every generated key of every kind, wherever it sits in the text', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('PERSONAL', 'COLLECTION_ACCESS', 'SCIM' as const), fc.string({ maxLength: 30 })), {
          maxLength: 8,
        }),
        (parts) => {
          const keys = parts.map(([kind]) => generateKey(kind));
          const text = parts.map(([, filler], i) => `${filler.replace(/[0-9A-Za-z_]/g, ' ')} ${keys[i]}\n`).join('');
          expect(findKeys(text).map((f) => f.key)).toEqual(keys);
        },
      ),
    );
  });

  it('drops random 39-character candidates: their checksum is almost never right', () => {
    const body = fc.string({ unit: fc.constantFrom(...BASE62), minLength: 36, maxLength: 36 });
    const texts = fc.sample(fc.array(body, { minLength: 100, maxLength: 100 }), 100);
    const candidates = texts.flat().map((b) => `kp_${b}`);
    expect(candidates).toHaveLength(10_000);
    expect(findKeys(candidates.join('\n'))).toEqual([]);
  });

  it('reports 1-based lines and columns, and ignores keys glued to other word characters', () => {
    const a = generateKey('PERSONAL');
    const b = generateKey('COLLECTION_ACCESS');
    const text = `first line\n  key: "${a}"\nx${b}\n\n\tgo ${b}.`;
    expect(findKeys(text)).toEqual([
      { key: a, kind: 'PERSONAL', line: 2, column: 9 },
      { key: b, kind: 'COLLECTION_ACCESS', line: 5, column: 5 },
    ]);
  });

  it('scans 10 MB with 1,000 candidates well under a second', () => {
    const keys = Array.from({ length: 500 }, () => generateKey('PERSONAL'));
    const filler = 'lorem ipsum dolor sit amet, consectetur adipiscing elit '.repeat(350);
    const lines: string[] = [];
    for (let i = 0; i < 1_000; i++) lines.push(filler.slice(0, 10_000), i % 2 ? keys[i >> 1]! : `kp_${'A'.repeat(36)}`);
    const text = lines.join('\n');
    expect(text.length).toBeGreaterThan(10_000_000);
    const found = findKeys(text);
    expect(found).toHaveLength(500);
    // The speed itself is measured by bench/scan.ts; this only proves the 10 MB pass is one pass.
  });
});
