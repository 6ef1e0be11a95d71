// The arguments of every paged plain list (SPEC §5 bounded answers): first (default 50, at most
// 500) and after (the last id of the previous page).
import type { ArgBuilder } from '@pothos/core';
import { DEFAULT_PAGE, MAX_PAGE } from '../domain/input.js';
import type { builder } from './builder.js';

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

export function listArgs(t: { arg: ArgBuilder<Types> }) {
  return {
    first: t.arg.int({ defaultValue: DEFAULT_PAGE, description: `how many (0..${MAX_PAGE})` }),
    after: t.arg.id({ description: 'the last id of the previous page' }),
  };
}
