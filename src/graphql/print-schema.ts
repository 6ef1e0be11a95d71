// `npm run schema:print` writes the SDL that is checked in (a test fails when it is stale).
import { mkdirSync, writeFileSync } from 'node:fs';
import { printedSchema } from './schema.js';

mkdirSync('schema', { recursive: true });
writeFileSync('schema/schema.graphql', printedSchema());
console.log('wrote schema/schema.graphql');
