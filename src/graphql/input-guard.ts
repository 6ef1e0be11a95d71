// One check of every string a client sends, before any resolver runs (HTTP, SSE, graphql-ws):
// every argument value of the operation, inline literal or variable, nested in input objects,
// lists and JSON scalars (their keys too), is walked once. A NUL or an unpaired UTF-16 surrogate
// (neither survives PostgreSQL text, nor is ever meaningful) and input nested deeper than
// MAX_INPUT_DEPTH are BAD_USER_INPUT naming the field (e.g. input.requests.0.name).
import {
  type ArgumentNode,
  type DirectiveNode,
  type DocumentNode,
  type GraphQLError,
  getOperationAST,
  Kind,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { badInput, capReached } from './errors.js';

export const MAX_INPUT_DEPTH = 32;

// An unpaired high surrogate, or a low one without its high half.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why a string may not be stored, or null. */
export function stringProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(s)) return 'must not contain unpaired UTF-16 surrogates';
  return null;
}

type Variables = Record<string, unknown> | null | undefined;

class Walker {
  private readonly seenFragments = new Set<string>();
  constructor(
    private readonly document: DocumentNode,
    private readonly variables: Variables,
  ) {}

  private defaults = new Map<string, ValueNode>();

  operation(operationName: string | null | undefined): void {
    const operation = getOperationAST(this.document, operationName);
    if (!operation) return;
    for (const v of operation.variableDefinitions ?? []) {
      if (v.defaultValue) this.defaults.set(v.variable.name.value, v.defaultValue);
    }
    this.directives(operation.directives);
    this.selections(operation.selectionSet);
  }

  private selections(set: SelectionSetNode): void {
    for (const sel of set.selections) {
      this.directives(sel.directives);
      if (sel.kind === Kind.FIELD) {
        this.arguments(sel.arguments);
        if (sel.selectionSet) this.selections(sel.selectionSet);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        this.selections(sel.selectionSet);
      } else if (!this.seenFragments.has(sel.name.value)) {
        this.seenFragments.add(sel.name.value);
        const fragment = this.document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === sel.name.value);
        if (fragment && fragment.kind === Kind.FRAGMENT_DEFINITION) {
          this.directives(fragment.directives);
          this.selections(fragment.selectionSet);
        }
      }
    }
  }

  private directives(directives: readonly DirectiveNode[] | undefined): void {
    for (const d of directives ?? []) this.arguments(d.arguments);
  }

  private arguments(args: readonly ArgumentNode[] | undefined): void {
    for (const a of args ?? []) this.node(a.name.value, a.value, 1);
  }

  /** An inline value; a variable in it names the field it is given to. */
  private node(field: string, node: ValueNode, depth: number): void {
    if (depth > MAX_INPUT_DEPTH) throw tooDeep(field);
    switch (node.kind) {
      case Kind.STRING:
        return this.string(field, node.value);
      case Kind.LIST:
        node.values.forEach((v, i) => this.node(`${field}.${i}`, v, depth + 1));
        return;
      case Kind.OBJECT:
        for (const f of node.fields) this.node(`${field}.${f.name.value}`, f.value, depth + 1);
        return;
      case Kind.VARIABLE: {
        const name = node.name.value;
        if (this.variables && Object.hasOwn(this.variables, name)) this.value(field, this.variables[name], depth);
        else if (this.defaults.has(name)) this.node(field, this.defaults.get(name)!, depth);
        return;
      }
      default:
        return;
    }
  }

  private value(field: string, value: unknown, depth: number): void {
    if (typeof value === 'string') return this.string(field, value);
    if (typeof value !== 'object' || value === null) return;
    if (depth > MAX_INPUT_DEPTH) throw tooDeep(field);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) this.value(`${field}.${i}`, value[i], depth + 1);
      return;
    }
    for (const [key, v] of Object.entries(value)) {
      const problem = stringProblem(key);
      if (problem) throw badInput(field, `a key ${problem}`);
      this.value(`${field}.${key}`, v, depth + 1);
    }
  }

  private string(field: string, value: string): void {
    const problem = stringProblem(value);
    if (problem) throw badInput(field, problem);
  }
}

const tooDeep = (field: string) => capReached(field, `must not be nested more than ${MAX_INPUT_DEPTH} levels deep`, 'maxInputDepth');

/** The first problem in an operation's input, or null. */
export function inputProblem(document: DocumentNode, operationName: string | null | undefined, variables: Variables): GraphQLError | null {
  try {
    new Walker(document, variables).operation(operationName);
    return null;
  } catch (error) {
    return error as GraphQLError;
  }
}

export function useInputGuard(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = inputProblem(args.document, args.operationName, args.variableValues);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = inputProblem(args.document, args.operationName, args.variableValues);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
