// Exposed keys: reported (idempotently, own team only), listed, resolved by any revocation,
// auto-revoked (reason EXPOSED, owner notified) and the enabling flow's three branches.
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { codes, gql } from '../helpers/client.js';
import { addKey, addTeam, addUser } from '../helpers/fixtures.js';
import { type TestServer, useTestServer } from '../helpers/server.js';

const Report = graphql(`
  mutation ScanReport($text: String!, $location: String!) {
    reportExposedApiKeys(text: $text, location: $location) {
      id location source resolved resolvedAt ignored detectedAt apiKey { id status revocationReason } accessKey { id }
    }
  }
`);
const Exposed = graphql(`
  query ScanExposed($all: Boolean) {
    exposedApiKeys(includeResolved: $all) { id location resolved ignored apiKey { id lastUsedAt createdBy { id } } accessKey { id } }
  }
`);
const Settings = graphql(`
  mutation ScanSettings($input: ApiKeySettingsInput!) {
    updateApiKeySettings(input: $input) { settings { autoRevokeExposedKeys } openExposureCount warning }
  }
`);
const Revoke = graphql(`
  mutation ScanRevoke($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }
`);
const Viewer = graphql(`
  query ScanViewer { viewer { keyKind } }
`);
const Notes = graphql(`
  query ScanNotes { notifications(first: 5) { edges { node { message apiKey { id revocationReason } } } } }
`);
const Share = graphql(`
  mutation ScanShare($id: ID!) { shareCollection(collectionId: $id) { secret accessKey { id } } }
`);
const CreateCollection = graphql(`
  mutation ScanCreateCollection { createCollection(input: { name: "Leaky" }) { id } }
`);

/** A fresh ENTERPRISE team with its admin key, so that settings do not leak between tests. */
async function team(server: TestServer) {
  const t = await addTeam(server);
  return { teamId: t.teamId, adminKey: t.apiKey };
}

const server = useTestServer();

describe('reportExposedApiKeys and exposedApiKeys', () => {
  it('takes a report that asks for every field (the cost limit prices it as a page, not as 1,000)', async () => {
    const { teamId, adminKey } = await team(server);
    const member = await addUser(server, teamId);
    const key =
      'id name hint status createdAt expiresAt lastUsedAt revokedAt revocationReason createdBy { id name email role } revokedBy { id name email role }';
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': adminKey },
      body: JSON.stringify({
        query: `mutation($t: String!) { reportExposedApiKeys(text: $t, location: "https://example.com/full") {
          id location source detectedAt resolved resolvedAt ignored apiKey { ${key} }
          accessKey { id hint status createdAt lastUsedAt revokedAt revocationReason createdBy { id name } revokedBy { id name } collection { id name } } } }`,
        variables: { t: member.key },
      }),
    });
    const body = (await res.json()) as { data?: { reportExposedApiKeys: { apiKey: { id: string } }[] }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data!.reportExposedApiKeys.map((e) => e.apiKey.id)).toEqual([member.apiKey.id]);
  });

  it('records one exposure per key and location, of the own team only, and lists them', async () => {
    const { teamId, adminKey } = await team(server);
    const member = await addUser(server, teamId);
    const other = await addTeam(server);
    const text = `config:\n  key=${member.key}\n  again=${member.key}\n  theirs=${other.apiKey}\n  fake=kp_${'Q'.repeat(36)}`;
    const first = await gql(server.url, Report, { text, location: 'https://example.com/leak.txt' }, { key: adminKey });
    expect(first.errors).toBeUndefined();
    expect(first.data!.reportExposedApiKeys).toHaveLength(1);
    expect(first.data!.reportExposedApiKeys[0]).toMatchObject({
      location: 'https://example.com/leak.txt',
      source: 'api',
      resolved: false,
      ignored: false,
      apiKey: { id: member.apiKey.id, status: 'ENABLED' },
      accessKey: null,
    });
    // The same key at the same location again: the same exposure, nothing new.
    const again = await gql(server.url, Report, { text, location: 'https://example.com/leak.txt' }, { key: adminKey });
    expect(again.data!.reportExposedApiKeys.map((e) => e.id)).toEqual(first.data!.reportExposedApiKeys.map((e) => e.id));
    await gql(server.url, Report, { text: member.key, location: 'gist:42' }, { key: adminKey });

    const list = await gql(server.url, Exposed, {}, { key: adminKey });
    expect(list.data!.exposedApiKeys.map((e) => e.location).sort()).toEqual(['gist:42', 'https://example.com/leak.txt']);
    expect(list.data!.exposedApiKeys[0]!.apiKey!.createdBy.id).toBe(member.user.id);
    // The other team saw nothing of it, and its own key was not recorded by this report.
    expect((await gql(server.url, Exposed, {}, { key: other.apiKey })).data!.exposedApiKeys).toEqual([]);
  });

  it('is for ENTERPRISE admins: members FORBIDDEN, FREE teams PLAN_REQUIRED, bad input BAD_USER_INPUT', async () => {
    const { teamId, adminKey } = await team(server);
    const member = await addUser(server, teamId);
    const free = await addTeam(server, 'FREE');
    expect(codes(await gql(server.url, Exposed, {}, { key: member.key }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(server.url, Report, { text: 'x', location: 'y' }, { key: member.key }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(server.url, Exposed, {}, { key: free.apiKey }))).toEqual(['PLAN_REQUIRED']);
    expect(codes(await gql(server.url, Report, { text: 'x', location: '  ' }, { key: adminKey }))).toEqual(['BAD_USER_INPUT']);
  });

  it('a collection access key found exposed comes in accessKey', async () => {
    const { adminKey } = await team(server);
    const collection = await gql(server.url, CreateCollection, {}, { key: adminKey });
    const shared = await gql(server.url, Share, { id: collection.data!.createCollection.id }, { key: adminKey });
    const res = await gql(
      server.url,
      Report,
      { text: `curl -H "X-API-Key: ${shared.data!.shareCollection.secret}"`, location: 'pastebin' },
      { key: adminKey },
    );
    expect(res.data!.reportExposedApiKeys[0]).toMatchObject({ apiKey: null, accessKey: { id: shared.data!.shareCollection.accessKey.id } });
  });

  it('revoking an exposed key by any path resolves its findings', async () => {
    const { teamId, adminKey } = await team(server);
    const member = await addUser(server, teamId);
    await gql(server.url, Report, { text: member.key, location: 'a' }, { key: adminKey });
    await gql(server.url, Report, { text: member.key, location: 'b' }, { key: adminKey });
    await gql(server.url, Revoke, { ids: [member.apiKey.id] }, { key: adminKey });
    expect((await gql(server.url, Exposed, {}, { key: adminKey })).data!.exposedApiKeys).toEqual([]);
    const all = await gql(server.url, Exposed, { all: true }, { key: adminKey });
    expect(all.data!.exposedApiKeys.map((e) => e.resolved)).toEqual([true, true]);
    // Reported again once revoked: recorded as resolved already.
    const late = await gql(server.url, Report, { text: member.key, location: 'c' }, { key: adminKey });
    expect(late.data!.reportExposedApiKeys[0]).toMatchObject({ resolved: true });
  });
});

describe('regeneration', () => {
  it('resolves the findings of the exposed secret, so that a later REVOKE choice spares the new one', async () => {
    const { teamId, adminKey } = await team(server);
    const owner = await addUser(server, teamId);
    await gql(server.url, Report, { text: owner.key, location: 'chat' }, { key: adminKey });
    const regenerated = await gql(
      server.url,
      graphql(`mutation ScanRegenerate($id: ID!) { regenerateApiKey(id: $id) { secret } }`),
      { id: owner.apiKey.id },
      { key: owner.key },
    );
    const fresh = regenerated.data!.regenerateApiKey.secret;
    expect((await gql(server.url, Exposed, {}, { key: adminKey })).data!.exposedApiKeys).toEqual([]);
    const enabled = await gql(
      server.url,
      Settings,
      { input: { autoRevokeExposedKeys: true, exposedKeysAction: 'REVOKE' } },
      { key: adminKey },
    );
    expect(enabled.data!.updateApiKeySettings).toMatchObject({ openExposureCount: 0, settings: { autoRevokeExposedKeys: true } });
    expect((await gql(server.url, Viewer, {}, { key: fresh })).status).toBe(200);
  });
});

describe('auto revoke', () => {
  it('off: an exposure leaves the key working; on: it is revoked at once (EXPOSED) and its owner notified', async () => {
    const { teamId, adminKey } = await team(server);
    const kept = await addUser(server, teamId);
    await gql(server.url, Report, { text: kept.key, location: 'off' }, { key: adminKey });
    expect((await gql(server.url, Viewer, {}, { key: kept.key })).status).toBe(200);
    await gql(server.url, Settings, { input: { autoRevokeExposedKeys: true, exposedKeysAction: 'IGNORE' } }, { key: adminKey });

    const victim = await addUser(server, teamId);
    const res = await gql(server.url, Report, { text: `leaked ${victim.key}`, location: 'on' }, { key: adminKey });
    expect(res.data!.reportExposedApiKeys[0]).toMatchObject({ resolved: true, apiKey: { status: 'REVOKED', revocationReason: 'EXPOSED' } });
    expect((await gql(server.url, Viewer, {}, { key: victim.key })).status).toBe(401);
    const second = await addKey(server, victim.user, 'after the leak');
    const notes = await gql(server.url, Notes, {}, { key: second.secret });
    const note = notes.data!.notifications.edges.map((e) => e.node).find((n) => n.apiKey?.id === victim.apiKey.id);
    expect(note).toMatchObject({ apiKey: { revocationReason: 'EXPOSED' } });
    expect(note!.message).toMatch(/exposed/);
    expect(await server.services.prisma.emailOutbox.count({ where: { to: victim.user.email } })).toBe(1);
  });

  it('enabling it while exposures are open: a warning without a choice, REVOKE or IGNORE with one', async () => {
    const { teamId, adminKey } = await team(server);
    const a = await addUser(server, teamId);
    const b = await addUser(server, teamId);
    await gql(server.url, Report, { text: `${a.key} ${b.key}`, location: 'repo' }, { key: adminKey });

    const warned = await gql(server.url, Settings, { input: { autoRevokeExposedKeys: true } }, { key: adminKey });
    expect(warned.data!.updateApiKeySettings).toMatchObject({ settings: { autoRevokeExposedKeys: false }, openExposureCount: 2 });
    expect(warned.data!.updateApiKeySettings.warning).toMatch(/REVOKE|IGNORE/);

    const ignored = await gql(
      server.url,
      Settings,
      { input: { autoRevokeExposedKeys: true, exposedKeysAction: 'IGNORE' } },
      { key: adminKey },
    );
    expect(ignored.data!.updateApiKeySettings).toMatchObject({
      settings: { autoRevokeExposedKeys: true },
      openExposureCount: 2,
      warning: null,
    });
    expect((await gql(server.url, Exposed, {}, { key: adminKey })).data!.exposedApiKeys.map((e) => e.ignored)).toEqual([true, true]);
    expect((await gql(server.url, Viewer, {}, { key: a.key })).status).toBe(200);
    // Reported again at the same place with auto revoke on: still the admin's choice (ignored).
    await gql(server.url, Report, { text: a.key, location: 'repo' }, { key: adminKey });
    expect((await gql(server.url, Viewer, {}, { key: a.key })).status).toBe(200);

    // Off, a new finding, and on again with REVOKE: that key is revoked, the ignored ones stay.
    await gql(server.url, Settings, { input: { autoRevokeExposedKeys: false } }, { key: adminKey });
    const c = await addUser(server, teamId);
    await gql(server.url, Report, { text: c.key, location: 'wiki' }, { key: adminKey });
    const revoked = await gql(
      server.url,
      Settings,
      { input: { autoRevokeExposedKeys: true, exposedKeysAction: 'REVOKE' } },
      { key: adminKey },
    );
    expect(revoked.data!.updateApiKeySettings).toMatchObject({
      settings: { autoRevokeExposedKeys: true },
      openExposureCount: 1,
      warning: null,
    });
    expect((await gql(server.url, Viewer, {}, { key: c.key })).status).toBe(401);
    expect((await gql(server.url, Viewer, {}, { key: a.key })).status).toBe(200);
    const key = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: c.apiKey.id } });
    expect(key).toMatchObject({ status: 'REVOKED', revocationReason: 'EXPOSED' });
  });
});
