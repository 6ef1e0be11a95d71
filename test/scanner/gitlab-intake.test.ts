// /scanner/gitlab: GitLab secret detection's Token Revocation API. The pre-shared token (raw or
// Bearer) opens both endpoints; a report records exposures (source gitlab, the location) and,
// with auto revoke on, revokes the key (EXPOSED) with its notices; a wrong, missing or unset
// token is 401 and records nothing; a malformed report is 400; unknown, revoked or repeated
// tokens are accepted and change nothing; the 61st report a minute from one address is 429, and
// so are wrong tokens past AUTH_FAILURES_PER_MINUTE.
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { generateKey } from '../../src/keys/format.js';
import { API_KEY_REVOKED } from '../../src/notifications/revocation-notices.js';
import { GITLAB_REPORTS_PER_MINUTE, GITLAB_TOKEN_TYPES } from '../../src/scanner/gitlab-intake.js';
import { gql } from '../helpers/client.js';
import { addSharedCollection, addTeam, addUser, revokeKeys } from '../helpers/fixtures.js';
import { type ScopedTestServer, useTestServer } from '../helpers/server.js';

const TOKEN = 'gitlab-test-revocation-token-0123456789';
const [API_KEY_TYPE] = GITLAB_TOKEN_TYPES;

// The test client is 127.0.0.1, trusted as a proxy: each test reports from an address of its own
// (X-Forwarded-For), so that the per-address limit of one test does not reach the others.
const server = useTestServer({ GITLAB_REVOCATION_TOKEN: TOKEN, TRUST_PROXY: '127.0.0.1' });
let lastAddress = 0;
const nextAddress = () => `198.51.100.${++lastAddress}`;

const endpoint = (s: ScopedTestServer, path: string) => s.url.replace(/\/graphql$/, `/scanner/gitlab/${path}`);

interface Reported {
  type: string;
  token: string;
  location: string;
}

function report(body: Reported[] | string, options: { authorization?: string | null; from?: string; s?: ScopedTestServer } = {}) {
  const { authorization = TOKEN, from = nextAddress(), s = server } = options;
  return fetch(endpoint(s, 'revoke_tokens'), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': from,
      'user-agent': 'GitLab/18.0',
      ...(authorization === null ? {} : { authorization }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const Settings = parse(`
  mutation GitLabIntakeSettings($input: ApiKeySettingsInput!) { updateApiKeySettings(input: $input) { settings { autoRevokeExposedKeys } } }
`);

/** A fresh ENTERPRISE team (its settings are its own) with a member's key, auto revoke on or off. */
async function teamWithMember(autoRevoke: boolean) {
  const team = await addTeam(server);
  if (autoRevoke) {
    const res = await gql<{ updateApiKeySettings: { settings: { autoRevokeExposedKeys: boolean } } }, { input: Record<string, unknown> }>(
      server.url,
      Settings,
      { input: { autoRevokeExposedKeys: true, exposedKeysAction: 'IGNORE' } },
      { key: team.apiKey },
    );
    expect(res.data?.updateApiKeySettings.settings.autoRevokeExposedKeys).toBe(true);
  }
  const member = await addUser(server, team.teamId);
  return { team, member };
}

const exposuresOf = (keyId: string) => server.services.prisma.apiKeyExposure.findMany({ where: { keyId }, orderBy: { location: 'asc' } });
const keyRow = (id: string) => server.services.prisma.apiKey.findUniqueOrThrow({ where: { id } });
const noticesOf = async (userId: string, email: string) => ({
  notifications: await server.services.prisma.notification.count({ where: { userId, kind: API_KEY_REVOKED } }),
  emails: await server.services.prisma.emailOutbox.count({ where: { to: email } }),
});
const worksOver = async (key: string) =>
  (
    await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: '{"query":"{ viewer { id } }"}',
    })
  ).status;

describe('GET /scanner/gitlab/revocable_token_types', () => {
  it('lists the three types for the token, raw or Bearer; 401 without it, 405 for another method', async () => {
    const url = endpoint(server, 'revocable_token_types');
    for (const authorization of [TOKEN, `Bearer ${TOKEN}`, `bearer ${TOKEN}`]) {
      const res = await fetch(url, { headers: { authorization } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(await res.json()).toEqual({
        types: [
          'gitleaks_rule_id_keyplane_api_key',
          'gitleaks_rule_id_keyplane_collection_access_key',
          'gitleaks_rule_id_keyplane_scim_api_key',
        ],
      });
    }
    for (const headers of [
      {} as Record<string, string>,
      { authorization: `${TOKEN}x` },
      { authorization: `Bearer ${TOKEN.slice(1)}` },
      { authorization: 'Bearer' },
    ]) {
      expect((await fetch(url, { headers })).status).toBe(401);
    }
    const post = await fetch(url, { method: 'POST', headers: { authorization: TOKEN } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect((await fetch(endpoint(server, 'nope'), { headers: { authorization: TOKEN } })).status).toBe(404);
  });
});

describe('POST /scanner/gitlab/revoke_tokens', () => {
  it('with auto revoke on: records the exposure (source gitlab, the location) and revokes the key (EXPOSED) with its notices', async () => {
    const { member } = await teamWithMember(true);
    expect(await worksOver(member.key)).toBe(200);
    const location = 'https://gitlab.example.com/group/project/-/blob/abc123/config/.env#L3';
    const from = nextAddress();
    const res = await report([{ type: API_KEY_TYPE, token: member.key, location }], { from });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');

    const [exposure, ...more] = await exposuresOf(member.apiKey.id);
    expect(more).toEqual([]);
    expect(exposure).toMatchObject({ location, source: 'gitlab', resolvedAt: expect.any(Date) });
    expect(await keyRow(member.apiKey.id)).toMatchObject({ status: 'REVOKED', revocationReason: 'EXPOSED' });
    expect(await worksOver(member.key)).toBe(401);
    expect(await noticesOf(member.user.id, member.user.email)).toEqual({ notifications: 1, emails: 1 });
    // Audited as the scanner, from where the report came; never the key.
    const events = await server.services.prisma.auditEvent.findMany({
      where: { targetId: member.apiKey.id, action: { in: ['api_key.revoked', 'exposure.reported'] } },
      orderBy: { action: 'asc' },
    });
    expect(events.map((e) => [e.action, e.actorType, e.address, e.userAgent])).toEqual([
      ['api_key.revoked', 'SCANNER', from, 'GitLab/18.0'],
      ['exposure.reported', 'SCANNER', from, 'GitLab/18.0'],
    ]);
    expect(events.find((e) => e.action === 'exposure.reported')!.summary).toContain('found by gitlab at https://gitlab.example.com/');
  });

  it('with auto revoke off (Bearer form): records the exposure and leaves the key working', async () => {
    const { member } = await teamWithMember(false);
    const res = await report([{ type: API_KEY_TYPE, token: member.key, location: 'repo/file.txt:1' }], {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(res.status).toBe(204);
    expect((await exposuresOf(member.apiKey.id)).map((e) => [e.location, e.source, e.resolvedAt])).toEqual([
      ['repo/file.txt:1', 'gitlab', null],
    ]);
    expect(await keyRow(member.apiKey.id)).toMatchObject({ status: 'ENABLED', revocationReason: null });
    expect(await worksOver(member.key)).toBe(200);
  });

  it("the token's own prefix says what it is: a collection access key reported under the API key type is revoked as itself", async () => {
    const { team, member } = await teamWithMember(true);
    const { accessKey } = await addSharedCollection(server, member.key, 'Leaky');
    const row = await server.services.prisma.apiKey.findFirstOrThrow({ where: { teamId: team.teamId, kind: 'COLLECTION_ACCESS' } });
    expect((await report([{ type: API_KEY_TYPE, token: accessKey, location: 'a' }])).status).toBe(204);
    expect((await exposuresOf(row.id)).map((e) => e.source)).toEqual(['gitlab']);
    expect(await keyRow(row.id)).toMatchObject({ status: 'REVOKED', revocationReason: 'EXPOSED' });
    // The member's own key was not in the report.
    expect(await keyRow(member.apiKey.id)).toMatchObject({ status: 'ENABLED' });
  });

  it('a long location in many-byte characters is recorded cut to 2,000 bytes: the report is accepted and the key revoked', async () => {
    const { member } = await teamWithMember(true);
    const location = `https://gitlab.example.com/${'漢'.repeat(1_000)}${'😀'.repeat(200)}`;
    expect(location.length).toBeLessThanOrEqual(2_000);
    const res = await report([{ type: API_KEY_TYPE, token: member.key, location }]);
    expect(res.status).toBe(204);
    const [exposure] = await exposuresOf(member.apiKey.id);
    expect(Buffer.byteLength(exposure!.location)).toBeLessThanOrEqual(2_000);
    expect(location.startsWith(exposure!.location.slice(0, -1))).toBe(true);
    expect(exposure!.location.endsWith('…')).toBe(true);
    expect(await keyRow(member.apiKey.id)).toMatchObject({ status: 'REVOKED', revocationReason: 'EXPOSED' });
  });

  it('a location with line breaks or bidi overrides is kept with them shown as U+FFFD (lists and audit summaries cannot be disguised)', async () => {
    const { member } = await teamWithMember(false);
    expect((await report([{ type: API_KEY_TYPE, token: member.key, location: 'file\u202e.env\n<script>' }])).status).toBe(204);
    const [exposure] = await exposuresOf(member.apiKey.id);
    expect(exposure!.location).toBe('file\ufffd.env\ufffd<script>');
  });

  it('a repeated report is idempotent: one exposure, one revocation, one set of notices', async () => {
    const { member } = await teamWithMember(true);
    const item = { type: API_KEY_TYPE, token: member.key, location: 'https://gitlab.example.com/p/-/blob/1/x' };
    // Twice in one body, then the whole body again.
    for (let i = 0; i < 2; i++) expect((await report([item, item])).status).toBe(204);
    const revokedAt = (await keyRow(member.apiKey.id)).revokedAt;
    expect(await report([item])).toHaveProperty('status', 204);
    expect(await exposuresOf(member.apiKey.id)).toHaveLength(1);
    expect((await keyRow(member.apiKey.id)).revokedAt).toEqual(revokedAt);
    expect(await noticesOf(member.user.id, member.user.email)).toEqual({ notifications: 1, emails: 1 });
    const reported = await server.services.prisma.auditEvent.count({ where: { targetId: member.apiKey.id, action: 'exposure.reported' } });
    expect(reported).toBe(1);
  });

  it('unknown, forged and already revoked tokens are accepted (204) and change nothing', async () => {
    const { team, member } = await teamWithMember(true);
    await revokeKeys(server, team.apiKey, [member.apiKey.id]);
    const before = await keyRow(member.apiKey.id);
    const notices = await noticesOf(member.user.id, member.user.email);
    const exposuresBefore = await server.services.prisma.apiKeyExposure.count();
    const unknown = generateKey('PERSONAL');
    const forged = `${unknown.slice(0, -1)}${unknown.endsWith('A') ? 'B' : 'A'}`;
    const res = await report([
      { type: API_KEY_TYPE, token: unknown, location: 'x' },
      { type: GITLAB_TOKEN_TYPES[2], token: generateKey('SCIM'), location: 'y' },
      { type: API_KEY_TYPE, token: forged, location: 'z' },
      { type: API_KEY_TYPE, token: 'glpat-not-even-ours', location: 'w' },
      { type: API_KEY_TYPE, token: member.key, location: 'v' },
    ]);
    expect(res.status).toBe(204);
    // The revoked key stays as it was revoked (by its admin), and its owner hears nothing more.
    expect(await keyRow(member.apiKey.id)).toEqual(before);
    expect(await noticesOf(member.user.id, member.user.email)).toEqual(notices);
    // Only the revoked key's finding is kept (resolved from the start, as the GitHub intake does).
    expect(await server.services.prisma.apiKeyExposure.count()).toBe(exposuresBefore + 1);
    expect((await exposuresOf(member.apiKey.id)).map((e) => [e.location, e.resolvedAt !== null])).toEqual([['v', true]]);
  });

  it('a wrong or missing token is 401 and records nothing', async () => {
    const { member } = await teamWithMember(true);
    const body = [{ type: API_KEY_TYPE, token: member.key, location: 'leak' }];
    for (const authorization of [null, '', 'wrong', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN.toUpperCase(), `${TOKEN} `.repeat(2)]) {
      const res = await report(body, { authorization });
      expect(res.status, String(authorization)).toBe(401);
      expect(await res.json()).toEqual({ message: expect.any(String) });
    }
    expect(await exposuresOf(member.apiKey.id)).toEqual([]);
    expect(await keyRow(member.apiKey.id)).toMatchObject({ status: 'ENABLED' });
    expect(await server.services.prisma.auditEvent.count({ where: { targetId: member.apiKey.id, action: 'exposure.reported' } })).toBe(0);
  });

  it('answers 400 with a JSON error to what is not the expected array, recording nothing', async () => {
    const { member } = await teamWithMember(true);
    const item = (over: Record<string, unknown> = {}) => ({
      type: API_KEY_TYPE,
      token: member.key,
      location: 'https://gitlab.example.com/p',
      ...over,
    });
    const bodies = [
      'not json',
      '',
      JSON.stringify(item()),
      JSON.stringify({ tokens: [item()] }),
      JSON.stringify([item({ location: 7 })]),
      JSON.stringify([{ type: API_KEY_TYPE, token: member.key }]),
      JSON.stringify([item({ token: null })]),
      JSON.stringify([item({ token: 'x'.repeat(201) })]),
      JSON.stringify([item({ location: 'x'.repeat(2_001) })]),
      JSON.stringify(Array.from({ length: 1_001 }, () => item())),
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      // NUL and unpaired surrogates, as escapes in the JSON text
      JSON.stringify([item({ location: 'https://x/@@' })]).replace('@@', '\\u0000'),
      JSON.stringify([item({ location: 'https://x/@@' })]).replace('@@', '\\ud800'),
      JSON.stringify([item({ token: `${member.key}@@` })]).replace('@@', '\\udfff'),
    ];
    for (const body of bodies) {
      const res = await report(body);
      expect(res.status, body.slice(0, 80)).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(await res.json()).toEqual({ message: expect.any(String) });
    }
    expect(await exposuresOf(member.apiKey.id)).toEqual([]);
    expect(await keyRow(member.apiKey.id)).toMatchObject({ status: 'ENABLED' });
  });

  it('an unknown type is 400 naming the field, and nothing of that report is recorded', async () => {
    const { member } = await teamWithMember(true);
    for (const type of ['aws_access_key', 'gitleaks_rule_id_gitlab_personal_access_token', 'keyplane_api_key', '']) {
      const res = await report([
        { type: API_KEY_TYPE, token: member.key, location: 'first' },
        { type, token: member.key, location: 'second' },
      ]);
      expect(res.status, type).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(/^1\.type: unknown type/);
    }
    expect(await exposuresOf(member.apiKey.id)).toEqual([]);
  });

  it('a body over 1 MB is 413, and the server answers the next report', async () => {
    const big = JSON.stringify([{ type: API_KEY_TYPE, token: 'x', location: 'x'.repeat(1_100_000) }]);
    const res = await report(big);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ message: expect.stringMatching(/1000000 bytes/) });
    expect((await report([])).status).toBe(204);
  });

  it('GET is 405', async () => {
    const res = await fetch(endpoint(server, 'revoke_tokens'), { headers: { authorization: TOKEN } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it(`the report past ${GITLAB_REPORTS_PER_MINUTE} a minute from one address is 429; other addresses and the types are not held`, async () => {
    const { member } = await teamWithMember(true);
    const from = nextAddress();
    const right = await Promise.all(Array.from({ length: GITLAB_REPORTS_PER_MINUTE }, () => report([], { from })));
    expect(right.map((r) => r.status)).toEqual(Array(GITLAB_REPORTS_PER_MINUTE).fill(204));

    const limited = await report([{ type: API_KEY_TYPE, token: member.key, location: 'late' }], { from });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toEqual({ message: expect.stringMatching(/retry in \d+ s/) });
    expect(await exposuresOf(member.apiKey.id)).toEqual([]);

    expect((await report([], { from: nextAddress() })).status).toBe(204);
    const types = await fetch(endpoint(server, 'revocable_token_types'), { headers: { authorization: TOKEN, 'x-forwarded-for': from } });
    expect(types.status).toBe(200);
  });

  it('wrong tokens are failed authentications of the address on both endpoints: past AUTH_FAILURES_PER_MINUTE they get 429, while the right token from that address still reports', async () => {
    const { member } = await teamWithMember(true);
    const from = nextAddress();
    const limit = server.services.config.authFailuresPerMinute;
    const guesses = [];
    for (let i = 0; i < limit; i++) {
      guesses.push(
        i % 2
          ? await report([], { from, authorization: `guess-${i}-0123456789abcdef` })
          : await fetch(endpoint(server, 'revocable_token_types'), {
              headers: { authorization: `guess-${i}-0123456789abcdef`, 'x-forwarded-for': from },
            }),
      );
    }
    expect(guesses.map((r) => r.status)).toEqual(Array(limit).fill(401));
    for (const path of ['revocable_token_types', 'revoke_tokens']) {
      const held = await fetch(endpoint(server, path), {
        method: path === 'revoke_tokens' ? 'POST' : 'GET',
        headers: { authorization: 'one-more-guess-0123456789', 'x-forwarded-for': from },
        ...(path === 'revoke_tokens' ? { body: '[]' } : {}),
      });
      expect(held.status, path).toBe(429);
      expect(await held.json()).toEqual({ message: expect.stringMatching(/Too many failed authentications.*retry in \d+ s/) });
    }
    // The right token is not held by the guesses made from its address.
    expect((await report([{ type: API_KEY_TYPE, token: member.key, location: 'src/.env' }], { from })).status).toBe(204);
    expect(await exposuresOf(member.apiKey.id)).toHaveLength(1);
  });
});

describe('GITLAB_REVOCATION_TOKEN unset', () => {
  const bare = useTestServer();

  it('refuses every request with 401 and records nothing', async () => {
    const member = await addUser(bare, bare.teamId);
    for (const authorization of [null, '', 'anything-at-all-0123456789', `Bearer ${TOKEN}`]) {
      const types = await fetch(endpoint(bare, 'revocable_token_types'), { headers: authorization === null ? {} : { authorization } });
      expect(types.status).toBe(401);
      const res = await report([{ type: API_KEY_TYPE, token: member.key, location: 'l' }], { authorization, s: bare });
      expect(res.status).toBe(401);
    }
    expect(await bare.services.prisma.apiKeyExposure.count()).toBe(0);
  });
});

describe('GITLAB_REVOCATION_TOKEN', () => {
  it('a short or unprintable value stops the start, naming the variable and never echoing the value', () => {
    for (const value of ['short-token', 'a token with spaces in it', 'tab\there-0123456789']) {
      let message = '';
      try {
        loadConfig({ GITLAB_REVOCATION_TOKEN: value });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/GITLAB_REVOCATION_TOKEN: must be/);
      expect(message).not.toContain(value);
    }
    expect(loadConfig({ GITLAB_REVOCATION_TOKEN: TOKEN }).gitlabRevocationToken).toBe(TOKEN);
    expect(loadConfig({ GITLAB_REVOCATION_TOKEN: '' }).gitlabRevocationToken).toBeUndefined();
  });
});
