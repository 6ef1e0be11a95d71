// A SCIM filter on /Users (RFC 7644 §3.4.2.2) as a database condition, so that totalResults and
// paging are the database's. The grammar is scim2-parse-filter's; this file only maps the
// attributes we serve: userName and emails.value (the member's email, case-insensitive: caseExact
// false), externalId (case-exact), active. Anything else is invalidFilter, never a silent "all".
import { type Filter, parse } from 'scim2-parse-filter';
import type { Prisma } from '../generated/prisma/client.js';
import { ScimError } from './responses.js';

type Where = Prisma.UserWhereInput;

const invalid = (detail: string) => new ScimError(400, detail, 'invalidFilter');

/** The filter parameter as a condition on the team's live members; null for an empty filter. */
export function userFilterWhere(filter: string): Where {
  let ast: Filter;
  try {
    ast = parse(filter);
  } catch (error) {
    throw invalid(`Unparsable filter: ${error instanceof Error ? error.message : String(error)}`);
  }
  return whereOf(ast, '');
}

const EMAIL_PATHS = new Set(['username', 'emails', 'emails.value']);
const SCHEMA_PREFIX = 'urn:ietf:params:scim:schemas:core:2.0:user:';

function attributeOf(path: string, prefix: string): string {
  let attribute = `${prefix}${path}`.toLowerCase();
  if (attribute.startsWith(SCHEMA_PREFIX)) attribute = attribute.slice(SCHEMA_PREFIX.length);
  return attribute;
}

function whereOf(f: Filter, prefix: string): Where {
  switch (f.op) {
    case 'and':
      return { AND: f.filters.map((c) => whereOf(c, prefix)) };
    case 'or':
      return { OR: f.filters.map((c) => whereOf(c, prefix)) };
    case 'not':
      return { NOT: whereOf(f.filter, prefix) };
    case '[]': {
      // emails[value eq "…"] / emails[type eq "work"]: the one email, of type work, primary.
      if (attributeOf(f.attrPath, prefix) !== 'emails') throw invalid(`Unsupported value path: ${f.attrPath}`);
      return whereOf(f.valFilter, 'emails.');
    }
    case 'pr':
      return present(attributeOf(f.attrPath, prefix));
    default:
      return compare(attributeOf(f.attrPath, prefix), f.op, f.compValue);
  }
}

function present(attribute: string): Where {
  if (EMAIL_PATHS.has(attribute) || attribute === 'active' || attribute === 'emails.type' || attribute === 'emails.primary') return {};
  if (attribute === 'externalid') return { AND: [{ externalId: { not: null } }, { externalId: { not: '' } }] };
  throw invalid(`Unsupported filter attribute: ${attribute}`);
}

const NEVER: Where = { id: { in: [] } };

function compare(attribute: string, op: string, value: unknown): Where {
  // Emails are stored lower-case: the value lower-cased compares case-insensitively, and exactly
  // (Prisma's insensitive mode is ILIKE, where "_" in an eq value would match any character).
  if (EMAIL_PATHS.has(attribute)) return text('email', op, typeof value === 'string' ? value.toLowerCase() : value);
  if (attribute === 'externalid') return text('externalId', op, value);
  if (attribute === 'active') {
    if (typeof value !== 'boolean' || (op !== 'eq' && op !== 'ne')) throw invalid('active compares with eq or ne to true or false');
    return { active: op === 'eq' ? value : !value };
  }
  // Every member's one email is of type "work" and primary.
  if (attribute === 'emails.type' || attribute === 'emails.primary') {
    const actual = attribute === 'emails.type' ? 'work' : true;
    if (op !== 'eq' && op !== 'ne') throw invalid(`${attribute} compares with eq or ne`);
    const equal = typeof value === 'string' && typeof actual === 'string' ? value.toLowerCase() === actual : value === actual;
    return equal === (op === 'eq') ? {} : NEVER;
  }
  throw invalid(`Unsupported filter attribute: ${attribute}`);
}

function text(field: 'email' | 'externalId', op: string, value: unknown): Where {
  if (typeof value !== 'string') throw invalid(`${field === 'email' ? 'userName' : 'externalId'} compares with a string`);
  switch (op) {
    case 'eq':
      return { [field]: value };
    case 'ne':
      // A member without an externalId is "not equal" too (SQL's NULL would drop it).
      return field === 'externalId' ? { OR: [{ externalId: null }, { externalId: { not: value } }] } : { NOT: { email: value } };
    case 'co':
      return { [field]: { contains: likeLiteral(value) } };
    case 'sw':
      return { [field]: { startsWith: likeLiteral(value) } };
    case 'ew':
      return { [field]: { endsWith: likeLiteral(value) } };
    default:
      throw invalid(`Unsupported operator ${op} on ${field === 'email' ? 'userName' : 'externalId'}`);
  }
}

/** Prisma hands contains/startsWith/endsWith to LIKE as is: its wildcards must match themselves. */
const likeLiteral = (value: string) => value.replace(/[\\%_]/g, '\\$&');
