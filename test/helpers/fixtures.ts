// Test data made through the real services (the same code the API runs), or through the API
// itself. The one place that knows the services' shape: tests ask these helpers instead.
import { parse } from 'graphql';
import type { Principal } from '../../src/auth/principal.js';
import type { TeamRole } from '../../src/generated/prisma/enums.js';
import type { KeyplaneServer } from '../../src/server.js';
import { bootstrapTeam } from '../../src/teams/bootstrap.js';
import { gql } from './client.js';

let counter = 0;

export async function addUser(server: KeyplaneServer, teamId: string, role: TeamRole = 'MEMBER') {
  counter += 1;
  const user = await server.services.prisma.user.create({
    data: { teamId, role, email: `user${counter}-${Date.now()}@example.com`, name: `User ${counter}` },
  });
  const { apiKey, secret } = await addKey(server, user, `${role.toLowerCase()} key ${counter}`);
  return { user, apiKey, key: secret };
}

/**
 * Another personal key for a member, issued as the API would, but without a request: no rate
 * limit, no `allowMembersToGenerateKeys` check and no apiKeyGenerated event.
 */
export function addKey(server: KeyplaneServer, user: { id: string; teamId: string }, name: string) {
  return server.services.keys.issuePersonalKey({ userId: user.id, teamId: user.teamId }, { name });
}

export async function addTeam(server: KeyplaneServer, plan: 'FREE' | 'ENTERPRISE' = 'ENTERPRISE') {
  counter += 1;
  const result = await bootstrapTeam(server.services.prisma, server.services.keys, {
    team: `Team ${counter}`,
    email: `owner${counter}-${Date.now()}@example.com`,
    plan,
  });
  return result!;
}

/** Who `key` authenticates as: the principal its requests' resolvers receive. */
export async function principalOf(server: KeyplaneServer, key: string): Promise<Principal> {
  const outcome = await server.services.auth.authenticate(key);
  if (!outcome.ok) throw new Error(outcome.message);
  return outcome.principal;
}

export async function viewerTeamId(server: KeyplaneServer, key: string) {
  return (await principalOf(server, key)).teamId;
}

const CreateCollection = parse('mutation FxCreateCollection($name: String!) { createCollection(input: { name: $name }) { id } }');
const ShareCollection = parse('mutation FxShareCollection($id: ID!) { shareCollection(collectionId: $id) { secret } }');

/** A collection made by the holder of `ownerKey` over the API, and an access key to it. */
export async function addSharedCollection(server: { url: string }, ownerKey: string, name: string) {
  const created = await gql<{ createCollection: { id: string } }, { name: string }>(
    server.url,
    CreateCollection,
    { name },
    { key: ownerKey },
  );
  if (!created.data) throw new Error(`createCollection: ${JSON.stringify(created.errors)}`);
  const collectionId = created.data.createCollection.id;
  const shared = await gql<{ shareCollection: { secret: string } }, { id: string }>(
    server.url,
    ShareCollection,
    { id: collectionId },
    { key: ownerKey },
  );
  if (!shared.data) throw new Error(`shareCollection: ${JSON.stringify(shared.errors)}`);
  return { collectionId, accessKey: shared.data.shareCollection.secret };
}

const RevokeKeys = parse('mutation FxRevokeKeys($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }');

/** Revokes keys as a team admin does (REVOKED_BY_ADMIN), over the API. */
export async function revokeKeys(server: { url: string }, adminKey: string, ids: string[]) {
  const res = await gql<{ revokeApiKeys: { revokedCount: number } }, { ids: string[] }>(server.url, RevokeKeys, { ids }, { key: adminKey });
  if (res.data?.revokeApiKeys.revokedCount !== ids.length) throw new Error(`revokeApiKeys: ${JSON.stringify(res.errors ?? res.data)}`);
}

/**
 * Waits until the webhook events noted by committed changes are rendered into deliveries (they
 * are rendered after commit: src/webhooks/outbox.ts).
 */
export async function webhookEventsRendered(server: KeyplaneServer, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    server.services.webhookEvents.nudge();
    await server.services.webhookEvents.idle();
    if ((await server.services.prisma.webhookOutbox.count()) === 0) return;
    if (Date.now() > until) throw new Error('webhook events were not rendered in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
