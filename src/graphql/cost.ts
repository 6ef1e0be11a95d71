// The query cost limit, schema-aware and with the request's variables (graphql-armor's costLimit
// counted a list once unless it had a literal `first`, so `collections { requests }` or
// `teamApiKeys(first: $n)` cost next to nothing). Here:
//   - a leaf costs 1, an object 2, a field may declare more (extensions.cost: e.g. a large JSON);
//   - a field with a `first` argument (literal, variable, or its default) that is a list costs
//     `first` times itself and its selection; on a connection, its lists (edges) are that size;
//   - any other list counts as extensions.listSize, or a default page (50).
// The budget is per HTTP request: the operations of a batch share it.
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  getOperationAST,
  isCompositeType,
  isLeafType,
  isListType,
  Kind,
  type SelectionSetNode,
  type ValueNode,
  valueFromASTUntyped,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { codedError } from '../domain/errors.js';
import { DEFAULT_PAGE } from '../domain/input.js';
import type { Context } from './context.js';
import { toGraphQLError } from './errors.js';

/**
 * The largest page of the largest connection (teamApiKeys, first: 500, every field: ~13,000)
 * passes; two of them in one request do not (nor three aliased). The dashboard's collections page
 * (50 collections with their requests, and 50 access keys) costs ~21,000.
 */
export const MAX_COST = 25_000;
/**
 * Collection.requests holds up to maxCollectionBytes (1 MiB) of JSON: a request may read about
 * MAX_COST / REQUESTS_COST ≈ 62 of them (~62 MiB), the default page of 50 included.
 */
export const REQUESTS_COST = 400;

type Variables = Record<string, unknown> | null | undefined;

interface FieldExtensions {
  cost?: number;
  listSize?: number;
}

export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Variables,
): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 0;
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const memo = new Map<string, number>();
  const variableDefaults = new Map<string, unknown>();
  for (const v of operation.variableDefinitions ?? []) {
    if (v.defaultValue) variableDefaults.set(v.variable.name.value, valueFromASTUntyped(v.defaultValue));
  }
  const variable = (name: string) => (variables && Object.hasOwn(variables, name) ? variables[name] : variableDefaults.get(name));

  const intArg = (
    field: GraphQLField<unknown, unknown>,
    nodeArgs: readonly { name: { value: string }; value: ValueNode }[] | undefined,
    name: string,
  ): number | null => {
    const def = field.args.find((a) => a.name === name);
    if (!def) return null;
    const node = nodeArgs?.find((a) => a.name.value === name);
    let value: unknown;
    if (node) value = node.value.kind === Kind.VARIABLE ? variable(node.value.name.value) : valueFromASTUntyped(node.value);
    if (typeof value !== 'number') value = def.defaultValue;
    return typeof value === 'number' ? Math.max(0, value) : DEFAULT_PAGE;
  };

  // The cost of one instance of `type` with this selection; `page` sizes its lists (edges).
  function selectionCost(set: SelectionSetNode, type: GraphQLCompositeType, page: number | null): number {
    let total = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        const on = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
        total += isCompositeType(on) ? selectionCost(sel.selectionSet, on, page) : 0;
      } else if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const key = `${sel.name.value}:${page}`;
        let cost = memo.get(key);
        if (cost === undefined) {
          memo.set(key, 0); // a cycle (refused by validation anyway) costs nothing more
          const fragment = fragments.get(sel.name.value);
          const on = fragment && schema.getType(fragment.typeCondition.name.value);
          cost = fragment && isCompositeType(on) ? selectionCost(fragment.selectionSet, on, page) : 0;
          memo.set(key, cost);
        }
        total += cost;
      } else {
        const name = sel.name.value;
        if (name.startsWith('__')) continue; // introspection and __typename
        const field = 'getFields' in type ? type.getFields()[name] : undefined;
        if (!field) continue;
        const extensions = (field.extensions ?? {}) as FieldExtensions;
        const named = getNamedType(field.type);
        const isList = isListType(getNullableType(field.type));
        const first = intArg(field, sel.arguments, 'first');
        let own = extensions.cost ?? (isLeafType(named) ? 1 : 2);
        if (sel.selectionSet && isCompositeType(named)) {
          own += selectionCost(sel.selectionSet, named, !isList && first !== null ? first : null);
        }
        const size = isList ? (first ?? extensions.listSize ?? page ?? DEFAULT_PAGE) : 1;
        total += size * own;
      }
    }
    return total;
  }

  return selectionCost(operation.selectionSet, root, null);
}

export function useCostLimit(maxCost = MAX_COST): Plugin {
  const spent = new WeakMap<Request, number>();
  const check = (args: {
    schema: GraphQLSchema;
    document: DocumentNode;
    operationName?: string | null;
    variableValues?: Variables;
    contextValue: unknown;
  }) => {
    const cost = operationCost(args.schema, args.document, args.operationName, args.variableValues);
    const request = (args.contextValue as Context).request;
    const total = cost + (request ? (spent.get(request) ?? 0) : 0);
    if (request) spent.set(request, total);
    if (total <= maxCost) return null;
    return toGraphQLError(codedError('BAD_USER_INPUT', `Query Cost limit of ${maxCost} exceeded, found ${total}.`, { limit: 'maxCost' }));
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = check(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = check(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
