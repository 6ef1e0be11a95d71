import { type DocumentNode, Kind, type OperationDefinitionNode } from 'graphql';

export function selectedOperation(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
}

/** True when every root field of the chosen query or mutation is one of `fields`. */
export function selectsOnly(document: DocumentNode, operationName: string | null | undefined, fields: ReadonlySet<string>): boolean {
  const operation = selectedOperation(document, operationName);
  if (!operation || operation.operation === 'subscription') return false;
  return operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && fields.has(s.name.value));
}
