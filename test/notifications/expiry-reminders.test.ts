// Expiry reminders (SPEC §5) on real servers and a real database: three instances whose reminder
// jobs race (their timers every second, plus runs started at once), the records that keep each
// reminder single, re-arming, the team expiry, the keys that get none, `daysLeft`, the live
// `apiKeyExpiring` event, and the settings' validation. Expiries are set in the database (or by
// setApiKeyExpiry); nothing waits real days.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { PrismaClient } from '../../src/generated/prisma/client.js';
import { KEYS_PER_OWNER_PER_RUN } from '../../src/notifications/expiry-reminders.js';
import { type KeyplaneServer, startKeyplane } from '../../src/server.js';
import { graphql } from '../generated/index.js';
import { codes, gql } from '../helpers/client.js';
import { addKey, addTeam } from '../helpers/fixtures.js';
import { makeTestEnv, useTestServer } from '../helpers/server.js';
import { openWsSession, settle } from '../helpers/ws-session.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const INTERVAL_SECONDS = '1';

const SetExpiry = graphql(`
  mutation ReminderSetExpiry($id: ID!, $expiresAt: DateTime) { setApiKeyExpiry(id: $id, expiresAt: $expiresAt) { id expiresAt } }
`);
const SetEnabled = graphql(`
  mutation ReminderSetEnabled($id: ID!, $enabled: Boolean!) { setApiKeyEnabled(id: $id, enabled: $enabled) { id status } }
`);
const Revoke = graphql(`
  mutation ReminderRevoke($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }
`);
const UpdateSettings = graphql(`
  mutation ReminderSettings($input: ApiKeySettingsInput!) {
    updateApiKeySettings(input: $input) { settings { expiryReminderDays keyExpiryDays } }
  }
`);
const ReadSettings = graphql(`
  query ReminderReadSettings { apiKeySettings { expiryReminderDays } }
`);
const Notifications = graphql(`
  query ReminderNotifications { notifications(first: 50) { edges { node { kind message apiKey { id } } } } }
`);

let counter = 0;

/** A team of its own (counts in one test are not disturbed by another's keys). */
async function team(server: KeyplaneServer, options: { reminderDays?: number[] } = {}) {
  const made = await addTeam(server, 'ENTERPRISE');
  if (options.reminderDays) {
    await server.services.prisma.team.update({ where: { id: made.teamId }, data: { expiryReminderDays: options.reminderDays } });
  }
  return made;
}

async function member(server: KeyplaneServer, teamId: string, name?: string) {
  counter += 1;
  return server.services.prisma.user.create({
    data: { teamId, name: name ?? `Member ${counter}`, email: `m${counter}-${Date.now()}@example.com` },
  });
}

/** Sets effective expiries in one transaction: a runner sees all of them or none. */
async function expireIn(prisma: PrismaClient, expiries: [keyId: string, ms: number][]) {
  const now = Date.now();
  await prisma.$transaction(
    expiries.map(([id, ms]) =>
      prisma.apiKey.update({ where: { id }, data: { expiresAt: new Date(now + ms), chosenExpiresAt: new Date(now + ms) } }),
    ),
  );
}

const reminderNotifications = (prisma: PrismaClient, keyIds: string[]) =>
  prisma.notification.findMany({ where: { kind: 'API_KEY_EXPIRING', keyId: { in: keyIds } }, orderBy: { createdAt: 'asc' } });

const emailsTo = (prisma: PrismaClient, to: string[]) => prisma.emailOutbox.findMany({ where: { to: { in: to } } });

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Long enough for every instance's timer to have run at least twice more. */
const twoIntervals = () => settle(2 * Number(INTERVAL_SECONDS) * 1000 + 500);

describe('expiry reminders with three instances racing', () => {
  let testEnv: Awaited<ReturnType<typeof makeTestEnv>>;
  let servers: KeyplaneServer[];
  let a: KeyplaneServer;
  let prisma: PrismaClient;

  beforeAll(async () => {
    testEnv = await makeTestEnv({ EXPIRY_JOB_INTERVAL_SECONDS: INTERVAL_SECONDS });
    servers = [];
    for (let i = 0; i < 3; i += 1) servers.push(await startKeyplane(loadConfig(testEnv.env)));
    a = servers[0]!;
    prisma = a.services.prisma;
  });
  afterAll(async () => {
    await Promise.all((servers ?? []).map((s) => s.close()));
    await testEnv?.cleanup();
  });

  it('one notification per key and threshold, one email per owner listing their keys, however many runners race', async () => {
    const t = await team(a);
    const owners = await Promise.all(Array.from({ length: 20 }, (_, i) => member(a, t.teamId, `Owner ${i}`)));
    const keys: { id: string; ownerId: string; name: string }[] = [];
    for (const [i, owner] of owners.entries()) {
      for (let j = 0; j < 3; j += 1) {
        const made = await addKey(a, owner, `race key ${i}.${j}`);
        keys.push({ id: made.apiKey.id, ownerId: owner.id, name: made.apiKey.name });
      }
    }
    // Half the owners' keys are inside 7 days, the other half's inside 1 day (and so inside 7).
    await expireIn(
      prisma,
      keys.map((k, n) => [k.id, Math.floor(n / 3) % 2 === 0 ? 5 * DAY : 12 * HOUR]),
    );
    // The three instances' timers race, and so do runs started at once on each of them.
    const now = new Date();
    const explicit = await Promise.all(servers.flatMap((s) => Array.from({ length: 4 }, () => s.services.expiryReminders.run(now))));
    await until(
      () =>
        reminderNotifications(
          prisma,
          keys.map((k) => k.id),
        ),
      (n) => n.length >= keys.length,
    );
    await twoIntervals();

    const notifications = await reminderNotifications(
      prisma,
      keys.map((k) => k.id),
    );
    const perKey = new Map<string, number>();
    for (const n of notifications) perKey.set(n.keyId!, (perKey.get(n.keyId!) ?? 0) + 1);
    expect(notifications).toHaveLength(keys.length);
    expect([...perKey.values()].every((n) => n === 1)).toBe(true);
    expect(explicit.reduce((sum, n) => sum + n, 0)).toBeLessThanOrEqual(keys.length);

    const emails = await emailsTo(
      prisma,
      owners.map((o) => o.email),
    );
    expect(emails).toHaveLength(owners.length);
    for (const owner of owners) {
      const mine = emails.filter((e) => e.to === owner.email);
      expect(mine).toHaveLength(1);
      for (const k of keys.filter((k) => k.ownerId === owner.id)) {
        expect(mine[0]!.text).toContain(k.name);
        expect(mine[0]!.html).toContain(k.name);
      }
      expect(mine[0]!.subject).toBe('3 of your Keyplane keys expire soon');
    }
    // Every threshold the keys are inside is recorded; only the smallest was sent.
    const records = await prisma.expiryReminder.findMany({ where: { keyId: { in: keys.map((k) => k.id) } } });
    expect(records.filter((r) => r.notified)).toHaveLength(keys.length);
    expect(records).toHaveLength(keys.length + keys.length / 2);
    console.info(
      `race: ${keys.length} keys of ${owners.length} owners, 3 instances (timers every ${INTERVAL_SECONDS} s + 12 runs at once): ` +
        `${notifications.length} notifications, ${emails.length} emails, ${records.length} records`,
    );
  }, 60_000);

  it('a key born inside 7 and 1 days gets one reminder (1 day); daysLeft is rounded up', async () => {
    const t = await team(a);
    const owner = await member(a, t.teamId);
    const inBoth = await addKey(a, owner, 'born inside both');
    const roundedUp = await addKey(a, owner, 'two days and an hour');
    await expireIn(prisma, [
      [inBoth.apiKey.id, 12 * HOUR],
      [roundedUp.apiKey.id, 2 * DAY + HOUR],
    ]);
    const sent = await until(
      () => reminderNotifications(prisma, [inBoth.apiKey.id, roundedUp.apiKey.id]),
      (n) => n.length >= 2,
    );
    await twoIntervals();
    expect(await reminderNotifications(prisma, [inBoth.apiKey.id, roundedUp.apiKey.id])).toHaveLength(2);
    expect(sent.find((n) => n.keyId === inBoth.apiKey.id)!.message).toMatch(/"born inside both" \(kp_…\w{4}\) expires in 1 day, on /);
    expect(sent.find((n) => n.keyId === roundedUp.apiKey.id)!.message).toMatch(/expires in 3 days, on /);
    const records = await prisma.expiryReminder.findMany({ where: { keyId: inBoth.apiKey.id }, orderBy: { thresholdDays: 'asc' } });
    expect(records.map((r) => [r.thresholdDays, r.notified])).toEqual([
      [1, true],
      [7, false],
    ]);
    const [email] = await emailsTo(prisma, [owner.email]);
    expect(email!.subject).toBe('2 of your Keyplane keys expire soon');
    expect(email!.text).toContain('born inside both');
    expect(email!.text).toContain('expires in 1 day');
    expect(email!.text).toContain('expires in 3 days');
  }, 30_000);

  it('an owner with more keys due than one run reminds (100) gets them over two runs: one email per run, no key twice', async () => {
    const t = await team(a);
    const owner = await member(a, t.teamId);
    const keys = [];
    for (let i = 0; i < KEYS_PER_OWNER_PER_RUN + 5; i += 1) keys.push(await addKey(a, owner, `bot key ${i}`));
    const ids = keys.map((k) => k.apiKey.id);
    await expireIn(
      prisma,
      ids.map((id, i) => [id, 12 * HOUR + i * 1_000]),
    );
    await until(
      () => reminderNotifications(prisma, ids),
      (n) => n.length >= ids.length,
      20_000,
    );
    await twoIntervals();
    const notifications = await reminderNotifications(prisma, ids);
    expect(new Set(notifications.map((n) => n.keyId)).size).toBe(ids.length);
    expect(notifications).toHaveLength(ids.length);
    const subjects = (await emailsTo(prisma, [owner.email])).map((e) => e.subject).sort();
    expect(subjects).toEqual([`${KEYS_PER_OWNER_PER_RUN} of your Keyplane keys expire soon`, '5 of your Keyplane keys expire soon']);
  }, 60_000);

  it('moving the expiry later re-arms the reminders; moving it earlier inside the same threshold does not', async () => {
    const t = await team(a);
    const owner = await member(a, t.teamId);
    const k = await addKey(a, owner, 'moved around');
    await expireIn(prisma, [[k.apiKey.id, 5 * DAY]]);
    await until(
      () => reminderNotifications(prisma, [k.apiKey.id]),
      (n) => n.length >= 1,
    );
    // The owner moves it out of every threshold (through the API): nothing new.
    const ownerKey = (await addKey(a, owner, 'owner session')).secret;
    const later = new Date(Date.now() + 20 * DAY).toISOString();
    expect((await gql(a.url, SetExpiry, { id: k.apiKey.id, expiresAt: later }, { key: ownerKey })).errors).toBeUndefined();
    await twoIntervals();
    expect(await reminderNotifications(prisma, [k.apiKey.id])).toHaveLength(1);
    // Six days: later than the expiry the 7-day reminder was sent for, so it is re-armed.
    const sixDays = new Date(Date.now() + 6 * DAY).toISOString();
    expect((await gql(a.url, SetExpiry, { id: k.apiKey.id, expiresAt: sixDays }, { key: ownerKey })).errors).toBeUndefined();
    const again = await until(
      () => reminderNotifications(prisma, [k.apiKey.id]),
      (n) => n.length >= 2,
    );
    expect(again).toHaveLength(2);
    expect(again[1]!.message).toContain('expires in 6 days');
    // Earlier, still inside 7 days only: that threshold was reached for a later expiry already.
    const fourDays = new Date(Date.now() + 4 * DAY).toISOString();
    expect((await gql(a.url, SetExpiry, { id: k.apiKey.id, expiresAt: fourDays }, { key: ownerKey })).errors).toBeUndefined();
    await twoIntervals();
    expect(await reminderNotifications(prisma, [k.apiKey.id])).toHaveLength(2);
    expect(await emailsTo(prisma, [owner.email])).toHaveLength(2);
  }, 30_000);

  it("the team's expiry counts: a team expiry of 5 days reminds at 7 for keys that chose none", async () => {
    const t = await team(a);
    const owner = await member(a, t.teamId);
    const k = await addKey(a, owner, 'chose no expiry');
    await settle(1_500); // its own expiry is none: no reminder
    expect(await reminderNotifications(prisma, [k.apiKey.id])).toHaveLength(0);
    const res = await gql(a.url, UpdateSettings, { input: { keyExpiryDays: 5 } }, { key: t.apiKey });
    expect(res.data?.updateApiKeySettings.settings.keyExpiryDays).toBe(5);
    const sent = await until(
      () => reminderNotifications(prisma, [k.apiKey.id]),
      (n) => n.length >= 1,
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]!.message).toContain('expires in 5 days');
    expect(sent[0]!.userId).toBe(owner.id);
  }, 30_000);

  it('DISABLED, REVOKED and expired keys get none; a team with [] gets none', async () => {
    const t = await team(a);
    const owner = await member(a, t.teamId);
    const ownerKey = (await addKey(a, owner, 'owner session')).secret;
    const control = await addKey(a, owner, 'control');
    const disabled = await addKey(a, owner, 'disabled');
    const revoked = await addKey(a, owner, 'revoked');
    const expired = await addKey(a, owner, 'lapsed');
    expect((await gql(a.url, SetEnabled, { id: disabled.apiKey.id, enabled: false }, { key: ownerKey })).errors).toBeUndefined();
    expect((await gql(a.url, Revoke, { ids: [revoked.apiKey.id] }, { key: t.apiKey })).data?.revokeApiKeys.revokedCount).toBe(1);
    // Revocation emails of the revoked key aside, only reminders are counted below.
    await prisma.apiKey.update({ where: { id: expired.apiKey.id }, data: { expiresAt: new Date(Date.now() - HOUR) } });
    await expireIn(prisma, [
      [control.apiKey.id, 3 * DAY],
      [disabled.apiKey.id, 3 * DAY],
      [revoked.apiKey.id, 3 * DAY],
    ]);

    const off = await team(a, { reminderDays: [] });
    const offOwner = await member(a, off.teamId);
    const offKey = await addKey(a, offOwner, 'team without reminders');
    await expireIn(prisma, [[offKey.apiKey.id, 12 * HOUR]]);

    await until(
      () => reminderNotifications(prisma, [control.apiKey.id]),
      (n) => n.length >= 1,
    );
    await twoIntervals();
    const all = [control, disabled, revoked, expired, offKey].map((k) => k.apiKey.id);
    expect((await reminderNotifications(prisma, all)).map((n) => n.keyId)).toEqual([control.apiKey.id]);
    expect(await prisma.expiryReminder.count({ where: { keyId: { in: all.slice(1) } } })).toBe(0);
    const reminderEmails = (await emailsTo(prisma, [owner.email, offOwner.email])).filter((e) => / expires? (in|soon)/.test(e.subject));
    expect(reminderEmails.map((e) => e.subject)).toEqual([`Your API key "control" (kp_…${control.apiKey.hint}) expires in 3 days`]);
  }, 30_000);
});

describe('apiKeyExpiring and the settings', () => {
  const server = useTestServer({ EXPIRY_JOB_INTERVAL_SECONDS: INTERVAL_SECONDS });

  it("pushes the viewer's key reaching a reminder, not another member's; the notification links the key", async () => {
    const alice = await member(server, server.teamId, 'Alice');
    const bob = await member(server, server.teamId, 'Bob');
    const aliceSession = await addKey(server, alice, 'alice session');
    const bobSession = await addKey(server, bob, 'bob session');
    const aliceKey = await addKey(server, alice, 'alice expiring');
    const bobKey = await addKey(server, bob, 'bob expiring');
    const query = 'subscription { apiKeyExpiring { apiKey { id name } expiresAt daysLeft } }';
    const aliceWs = await openWsSession(server.url, aliceSession.secret);
    const bobWs = await openWsSession(server.url, bobSession.secret);
    try {
      aliceWs.subscribe('e', query);
      bobWs.subscribe('e', query);
      await settle(300);
      await expireIn(server.services.prisma, [
        [aliceKey.apiKey.id, 30 * HOUR],
        [bobKey.apiKey.id, 4 * DAY],
      ]);
      type Event = { data: { apiKeyExpiring: { apiKey: { id: string; name: string }; expiresAt: string; daysLeft: number } } };
      const [forAlice] = await aliceWs.nexts<Event>('e', 1, 8_000);
      const [forBob] = await bobWs.nexts<Event>('e', 1, 8_000);
      expect(forAlice!.data.apiKeyExpiring.apiKey).toEqual({ id: aliceKey.apiKey.id, name: 'alice expiring' });
      expect(forAlice!.data.apiKeyExpiring.daysLeft).toBe(2); // 30 h, rounded up
      const stored = await server.services.prisma.apiKey.findUniqueOrThrow({ where: { id: aliceKey.apiKey.id } });
      expect(new Date(forAlice!.data.apiKeyExpiring.expiresAt).getTime()).toBe(stored.expiresAt!.getTime());
      expect(forBob!.data.apiKeyExpiring.apiKey.id).toBe(bobKey.apiKey.id);
      expect(forBob!.data.apiKeyExpiring.daysLeft).toBe(4);
      await twoIntervals();
      const events = (ws: typeof aliceWs) => ws.log.filter((m) => m.type === 'next');
      expect(events(aliceWs)).toHaveLength(1);
      expect(events(bobWs)).toHaveLength(1);

      const listed = await gql(server.url, Notifications, {}, { key: aliceSession.secret });
      const reminders = listed.data!.notifications.edges.filter((e) => e.node.kind === 'API_KEY_EXPIRING');
      expect(reminders).toHaveLength(1);
      expect(reminders[0]!.node.apiKey?.id).toBe(aliceKey.apiKey.id);
      expect(reminders[0]!.node.message).toContain('expires in 2 days');
    } finally {
      aliceWs.close();
      bobWs.close();
    }
  }, 30_000);

  it('expiryReminderDays: [7, 1] by default; 0 to 5 distinct days in 1..90, largest first; anything else is BAD_USER_INPUT', async () => {
    const read = await gql(server.url, ReadSettings, {}, { key: server.adminKey });
    expect(read.data?.apiKeySettings.expiryReminderDays).toEqual([7, 1]);
    const set = (days: number[]) => gql(server.url, UpdateSettings, { input: { expiryReminderDays: days } }, { key: server.adminKey });
    for (const bad of [[30, 14, 7, 3, 2, 1], [0], [91], [7, 7], [-1]]) {
      const res = await set(bad);
      expect(codes(res), JSON.stringify(bad)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0]!.extensions?.field).toBe('input.expiryReminderDays');
    }
    expect((await gql(server.url, ReadSettings, {}, { key: server.adminKey })).data?.apiKeySettings.expiryReminderDays).toEqual([7, 1]);
    expect((await set([1, 90, 30, 14, 7])).data?.updateApiKeySettings.settings.expiryReminderDays).toEqual([90, 30, 14, 7, 1]);
    // Another setting changed alone leaves it as it is.
    const other = await gql(server.url, UpdateSettings, { input: { keyExpiryDays: null } }, { key: server.adminKey });
    expect(other.data?.updateApiKeySettings.settings.expiryReminderDays).toEqual([90, 30, 14, 7, 1]);
    expect((await set([])).data?.updateApiKeySettings.settings.expiryReminderDays).toEqual([]);
    // A member may read it, not change it.
    const m = await member(server, server.teamId);
    const memberKey = (await addKey(server, m, 'member session')).secret;
    expect((await gql(server.url, ReadSettings, {}, { key: memberKey })).data?.apiKeySettings.expiryReminderDays).toEqual([]);
    expect(codes(await gql(server.url, UpdateSettings, { input: { expiryReminderDays: [7] } }, { key: memberKey }))).toEqual(['FORBIDDEN']);
    expect((await set([7, 1])).data?.updateApiKeySettings.settings.expiryReminderDays).toEqual([7, 1]);
  });
});

it('EXPIRY_JOB_INTERVAL_SECONDS: 30 by default; anything but a positive number of seconds (at most an hour) stops the start naming it', () => {
  expect(loadConfig({}).expiryJobIntervalSeconds).toBe(30);
  expect(loadConfig({ EXPIRY_JOB_INTERVAL_SECONDS: '0.5' }).expiryJobIntervalSeconds).toBe(0.5);
  for (const bad of ['0', '-1', 'soon', '3601']) {
    expect(() => loadConfig({ EXPIRY_JOB_INTERVAL_SECONDS: bad }), bad).toThrow(/EXPIRY_JOB_INTERVAL_SECONDS/);
  }
});
