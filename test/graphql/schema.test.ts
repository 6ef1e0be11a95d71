// schema/schema.graphql is checked in: it must be what the code builds (run `npm run schema:print`).
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { printedSchema } from '../../src/graphql/schema.js';

it('schema/schema.graphql is up to date with the code', () => {
  const checkedIn = readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8');
  expect(checkedIn, 'run `npm run schema:print` and commit schema/schema.graphql').toBe(printedSchema());
});
