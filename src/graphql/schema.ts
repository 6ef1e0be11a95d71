// Imports every domain's types (each registers itself on the builder) and builds the schema.
import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.js';
import './enums.js';
import '../teams/team.js';
import '../keys/api-key.js';
import '../keys/api-key-mutations.js';
import '../teams/invitation.js';
import '../auth/viewer.js';
import '../ratelimit/usage.js';
import '../collections/collection.js';
import '../collections/access-key.js';
import '../keys/team-keys.js';
import '../teams/settings.js';
import '../notifications/notification.js';
import '../notifications/revoked-event.js';
import '../notifications/expiring-event.js';
import '../scanner/exposure.js';
import '../audit/audit-event.js';
import '../scim/scim-api-key.js';
import '../webhooks/webhook-endpoint.js';

export const schema = builder.toSchema();

/** The SDL checked in as schema/schema.graphql. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
