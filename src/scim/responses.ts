// What /scim/v2 answers with: application/scim+json bodies, errors per RFC 7644 §3.12.
import type { ServerResponse } from 'node:http';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** RFC 7644 §3.12's scimType values this endpoint uses. */
export type ScimType = 'invalidFilter' | 'invalidValue' | 'mutability' | 'noTarget' | 'uniqueness' | 'invalidSyntax';

export interface ScimErrorBody {
  schemas: [typeof ERROR_SCHEMA];
  /** the HTTP status, as a string (RFC 7644 §3.12) */
  status: string;
  scimType?: ScimType;
  detail: string;
}

export function sendScim(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  // Answers about a team's members and keys are never cached by a proxy.
  res.writeHead(status, { 'content-type': SCIM_CONTENT_TYPE, 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}

export function sendScimError(
  res: ServerResponse,
  status: number,
  detail: string,
  options: { scimType?: ScimType; headers?: Record<string, string> } = {},
): void {
  const body: ScimErrorBody = {
    schemas: [ERROR_SCHEMA],
    status: String(status),
    ...(options.scimType ? { scimType: options.scimType } : {}),
    detail,
  };
  sendScim(res, status, body, options.headers);
}

/** A refusal of the SCIM protocol (RFC 7644 §3.12): what the Users handlers throw, sent as an error body. */
export class ScimError extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly scimType?: ScimType,
  ) {
    super(detail);
  }
}
