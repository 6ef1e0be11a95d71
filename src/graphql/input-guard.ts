// One check of every string a client sends (HTTP, SSE, graphql-ws): every argument value of the
// operation, inline literal or variable, nested in input objects, lists and JSON scalars (their
// keys too), is walked once when the operation starts. A NUL or an unpaired UTF-16 surrogate
// (neither survives PostgreSQL text, nor is ever meaningful) and input nested deeper than
// MAX_INPUT_DEPTH are BAD_USER_INPUT naming the field (e.g. input.requests.0.name).
// The problems are found per root field and raised by that field after its authorization (a
// Pothos plugin listed after scope-auth): SPEC §4's order is role → plan → existence → input, so a
// member who may not call a field hears FORBIDDEN, whatever its arguments hold.
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import {
  type ArgumentNode,
  type DirectiveNode,
  type DocumentNode,
  type GraphQLFieldResolver,
  getOperationAST,
  Kind,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { badInput, capReached, DomainError } from '../domain/errors.js';
import { stringProblem } from '../domain/input.js';

export const MAX_INPUT_DEPTH = 32;

type Variables = Record<string, unknown> | null | undefined;

class Walker {
  private seenFragments = new Set<string>();
  constructor(
    private readonly document: DocumentNode,
    private readonly variables: Variables,
  ) {}

  private defaults = new Map<string, ValueNode>();

  /** The first problem of each root field's input, by response key ('*': the whole operation's). */
  rootProblems(operationName: string | null | undefined): Map<string, DomainError> {
    const problems = new Map<string, DomainError>();
    const operation = getOperationAST(this.document, operationName);
    if (!operation) return problems;
    for (const v of operation.variableDefinitions ?? []) {
      if (v.defaultValue) this.defaults.set(v.variable.name.value, v.defaultValue);
    }
    this.check(problems, '*', () => this.directives(operation.directives));
    this.rootSelections(operation.selectionSet, problems, new Set());
    return problems;
  }

  private rootSelections(set: SelectionSetNode, problems: Map<string, DomainError>, rootFragments: Set<string>): void {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        this.check(problems, sel.alias?.value ?? sel.name.value, () => {
          this.directives(sel.directives);
          this.arguments(sel.arguments);
          if (sel.selectionSet) this.selections(sel.selectionSet);
        });
        continue;
      }
      this.check(problems, '*', () => this.directives(sel.directives));
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        this.rootSelections(sel.selectionSet, problems, rootFragments);
      } else if (!rootFragments.has(sel.name.value)) {
        rootFragments.add(sel.name.value);
        const fragment = this.document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === sel.name.value);
        if (fragment && fragment.kind === Kind.FRAGMENT_DEFINITION) {
          this.check(problems, '*', () => this.directives(fragment.directives));
          this.rootSelections(fragment.selectionSet, problems, rootFragments);
        }
      }
    }
  }

  /** Walks one part; its first problem is kept under `key` (fragments are walked again per part). */
  private check(problems: Map<string, DomainError>, key: string, walk: () => void): void {
    this.seenFragments = new Set();
    try {
      walk();
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      if (!problems.has(key)) problems.set(key, error);
    }
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
        for (const [i, v] of node.values.entries()) this.node(`${field}.${i}`, v, depth + 1);
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

/** The first problem in an operation's input, or null (any root field). */
export function inputProblem(document: DocumentNode, operationName: string | null | undefined, variables: Variables): DomainError | null {
  const problems = new Walker(document, variables).rootProblems(operationName);
  return problems.values().next().value ?? null;
}

/** Each operation's problems by root field, found when it starts, raised by the field itself. */
const problemsByContext = new WeakMap<object, Map<string, DomainError>>();

function problemFor(context: unknown, responseKey: string | number): DomainError | undefined {
  const problems = typeof context === 'object' && context !== null ? problemsByContext.get(context) : undefined;
  return problems && (problems.get(String(responseKey)) ?? problems.get('*'));
}

export function useInputGuard(): Plugin {
  const find = (args: { contextValue: unknown; document: DocumentNode; operationName?: string | null; variableValues?: Variables }) => {
    const problems = new Walker(args.document, args.variableValues).rootProblems(args.operationName);
    if (problems.size > 0 && typeof args.contextValue === 'object' && args.contextValue !== null) {
      problemsByContext.set(args.contextValue, problems);
    }
  };
  return {
    onExecute: ({ args }) => find(args),
    onSubscribe: ({ args }) => find(args),
  };
}

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

/** Raises a root field's input problem once the field is authorized (listed after scope-auth). */
export class InputGuardPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    if (!ROOT_TYPES.has(fieldConfig.parentType)) return resolver;
    return (parent, args, context, info) => {
      const problem = info.path.prev === undefined ? problemFor(context, info.path.key) : undefined;
      if (problem) throw problem;
      return resolver(parent, args, context, info);
    };
  }

  override wrapSubscribe(
    subscribe: GraphQLFieldResolver<unknown, Types['Context'], object> | undefined,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> | undefined {
    if (!subscribe || fieldConfig.parentType !== 'Subscription') return subscribe;
    return (parent, args, context, info) => {
      const problem = problemFor(context, info.path.key);
      if (problem) throw problem;
      return subscribe(parent, args, context, info);
    };
  }
}

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      inputGuard: InputGuardPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin('inputGuard', InputGuardPlugin);
export const inputGuardPlugin = 'inputGuard' as const;
