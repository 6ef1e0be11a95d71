// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): a resource narrowed to what the
// client asked for. id and schemas are always returned (returned "always"); attribute names are
// case-insensitive and may carry the core schema's URN prefix; "a.b" names a sub-attribute (of
// each value of a multi-valued attribute too).
import { ScimError } from './responses.js';

type Json = Record<string, unknown>;

const ALWAYS = new Set(['id', 'schemas']);

function pathsOf(list: string | null, schema: string): string[][] | null {
  if (list === null || list.trim() === '') return null;
  return list.split(',').map((raw) => {
    let path = raw.trim();
    if (path.toLowerCase().startsWith(`${schema.toLowerCase()}:`)) path = path.slice(schema.length + 1);
    if (!/^[A-Za-z][\w$-]*(\.[A-Za-z][\w$-]*)?$/.test(path)) throw new ScimError(400, `Not an attribute name: ${raw}`, 'invalidValue');
    return path.toLowerCase().split('.');
  });
}

const keyOf = (o: Json, lowered: string) => Object.keys(o).find((k) => k.toLowerCase() === lowered);

/** The sub-attributes `subs` of a complex value (of each value, for a multi-valued one). */
function narrow(value: unknown, subs: string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => narrow(v, subs));
  if (typeof value !== 'object' || value === null) return value;
  const out: Json = {};
  for (const sub of subs) {
    const key = keyOf(value as Json, sub);
    if (key !== undefined) out[key] = (value as Json)[key];
  }
  return out;
}

function omit(value: unknown, sub: string): unknown {
  if (Array.isArray(value)) return value.map((v) => omit(v, sub));
  if (typeof value !== 'object' || value === null) return value;
  const key = keyOf(value as Json, sub);
  if (key === undefined) return value;
  const { [key]: _, ...rest } = value as Json;
  return rest;
}

/** A projector for one request's parameters, or the identity when it names none. */
export function projection(attributes: string | null, excluded: string | null, schema: string): (resource: Json) => Json {
  const wanted = pathsOf(attributes, schema);
  const unwanted = pathsOf(excluded, schema);
  if (wanted) {
    return (resource) => {
      const out: Json = {};
      for (const [key, value] of Object.entries(resource)) {
        const lowered = key.toLowerCase();
        if (ALWAYS.has(lowered) || wanted.some((p) => p.length === 1 && p[0] === lowered)) {
          out[key] = value;
          continue;
        }
        const subs = wanted.flatMap(([top, sub]) => (top === lowered && sub !== undefined ? [sub] : []));
        if (subs.length > 0) out[key] = narrow(value, subs);
      }
      return out;
    };
  }
  if (unwanted) {
    return (resource) => {
      const out: Json = { ...resource };
      for (const [top = '', sub] of unwanted) {
        const key = keyOf(out, top);
        if (key === undefined || ALWAYS.has(key.toLowerCase())) continue;
        if (sub === undefined) delete out[key];
        else out[key] = omit(out[key], sub);
      }
      return out;
    };
  }
  return (resource) => resource;
}
