// Authentication of HTTP and SSE requests, before any GraphQL work: a key that is sent must be
// valid (401 at once otherwise); a request without a key may only run the operations that need
// none (acceptInvitation, introspection).
import { type DocumentNode, Kind, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { unauthenticated } from '../graphql/errors.js';
import type { Services } from '../services.js';
import type { AuthFailureReason } from './authenticator.js';
import type { Principal } from './principal.js';

const ANONYMOUS_ROOT_FIELDS = new Set(['acceptInvitation', '__schema', '__type', '__typename']);
const MISSING_KEY = 'Missing API key: send it in the X-API-Key header';

export function unauthenticatedResponse(reason: AuthFailureReason, message: string): Response {
  const body = { errors: [{ message, extensions: { code: 'UNAUTHENTICATED', reason } }] };
  return new Response(JSON.stringify(body), {
    status: 401,
    headers: { 'content-type': 'application/json; charset=utf-8', 'www-authenticate': 'X-API-Key' },
  });
}

/** True when every root field of the chosen operation may run without a key. */
export function needsNoKey(document: DocumentNode, operationName?: string | null): boolean {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation || operation.operation === 'subscription') return false;
  return operation.selectionSet.selections.every(
    (s) => s.kind === Kind.FIELD && ANONYMOUS_ROOT_FIELDS.has(s.name.value),
  );
}

export function useApiKeyAuth(services: Services, principals: WeakMap<Request, Principal>): Plugin {
  return {
    async onRequest({ request, endResponse }) {
      const header = request.headers.get('x-api-key');
      if (header === null) return;
      const outcome = await services.auth.authenticate(header);
      if (outcome.ok) principals.set(request, outcome.principal);
      else endResponse(unauthenticatedResponse(outcome.reason, outcome.message));
    },
    onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as unknown as { principal: Principal | null };
      if (!ctx.principal && !needsNoKey(args.document, args.operationName)) {
        setResultAndStopExecution({ errors: [unauthenticated(MISSING_KEY)] });
      }
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as unknown as { principal: Principal | null };
      if (!ctx.principal) setResultAndStopExecution({ errors: [unauthenticated(MISSING_KEY)] });
    },
  };
}
