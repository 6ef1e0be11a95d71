// inviteTeamMember (admins; only a SUPER_ADMIN invites a SUPER_ADMIN) and acceptInvitation.
import { describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { codes, gql } from '../helpers/client.js';
import { addUser } from '../helpers/fixtures.js';
import { useTestServer } from '../helpers/server.js';

const Invite = graphql(`
  mutation InvInvite($email: String!, $name: String!, $role: TeamRole) {
    inviteTeamMember(email: $email, name: $name, role: $role) { id email name role token expiresAt }
  }
`);
const Accept = graphql(`
  mutation InvAccept($token: String!, $keyName: String!) {
    acceptInvitation(token: $token, keyName: $keyName) { secret apiKey { id name createdBy { email name role } } }
  }
`);
const Whoami = graphql(`
  query InvWhoami { viewer { user { email role } team { id } } }
`);
const MembersQuery = graphql(`
  query InvMembers { teamMembers { email } }
`);

let n = 0;
const email = () => `invitee${++n}@example.com`;
const server = useTestServer();

describe('inviteTeamMember', () => {
  it('returns a one-time token that expires; only its hash is stored', async () => {
    const res = await gql(server.url, Invite, { email: email(), name: ' New Person ' }, { key: server.adminKey });
    expect(res.errors).toBeUndefined();
    const inv = res.data!.inviteTeamMember;
    expect(inv).toMatchObject({ name: 'New Person', role: 'MEMBER' });
    expect(inv.token.length).toBeGreaterThan(40);
    const days = (new Date(inv.expiresAt).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);
    const row = await server.services.prisma.invitation.findUniqueOrThrow({ where: { id: inv.id } });
    expect(JSON.stringify(row)).not.toContain(inv.token);
  });

  it('members may not invite; a TEAM_ADMIN may not invite a SUPER_ADMIN; a SUPER_ADMIN may', async () => {
    const member = await addUser(server, server.teamId);
    const teamAdmin = await addUser(server, server.teamId, 'TEAM_ADMIN');
    expect(codes(await gql(server.url, Invite, { email: email(), name: 'x' }, { key: member.key }))).toEqual(['FORBIDDEN']);
    const escalate = await gql(server.url, Invite, { email: email(), name: 'x', role: 'SUPER_ADMIN' }, { key: teamAdmin.key });
    expect(codes(escalate)).toEqual(['FORBIDDEN']);
    expect(escalate.errors![0].message).toMatch(/only a SUPER_ADMIN/i);
    const admin = await gql(server.url, Invite, { email: email(), name: 'x', role: 'TEAM_ADMIN' }, { key: teamAdmin.key });
    expect(admin.data!.inviteTeamMember.role).toBe('TEAM_ADMIN');
    const sup = await gql(server.url, Invite, { email: email(), name: 'x', role: 'SUPER_ADMIN' }, { key: server.adminKey });
    expect(sup.data!.inviteTeamMember.role).toBe('SUPER_ADMIN');
  });

  it('rejects a bad email, a bad name and an existing member', async () => {
    const bad = await gql(server.url, Invite, { email: 'nope', name: 'x' }, { key: server.adminKey });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.errors![0].message).toMatch(/^email: /);
    const noName = await gql(server.url, Invite, { email: email(), name: '  ' }, { key: server.adminKey });
    expect(noName.errors![0].message).toMatch(/^name: /);
    const dup = await gql(server.url, Invite, { email: 'ADMIN@keyplane.local', name: 'x' }, { key: server.adminKey });
    expect(codes(dup)).toEqual(['BAD_USER_INPUT']);
    expect(dup.errors![0].message).toMatch(/already a member/);
  });

  it('takes any RFC 5321 address (a@b.c, a quoted local part, an address literal)', async () => {
    for (const address of ['a@b.c', '"j doe"@example.com', 'x@[192.0.2.1]']) {
      const res = await gql(server.url, Invite, { email: address, name: 'Short' }, { key: server.adminKey });
      expect(res.errors, address).toBeUndefined();
      expect(res.data!.inviteTeamMember.email).toBe(address.toLowerCase());
    }
    for (const address of ['nope', 'a@@b.c', 'a b@c.d', 'a@-b.c', 'a.@b.c', 'a@b..c']) {
      const res = await gql(server.url, Invite, { email: address, name: 'x' }, { key: server.adminKey });
      expect(codes(res), address).toEqual(['BAD_USER_INPUT']);
    }
  });
});

describe('acceptInvitation', () => {
  async function invite(role: 'MEMBER' | 'TEAM_ADMIN' = 'MEMBER') {
    const address = email();
    const res = await gql(server.url, Invite, { email: address, name: 'Invitee', role }, { key: server.adminKey });
    return { address, token: res.data!.inviteTeamMember.token };
  }

  it('needs no key, creates the member with the invited role, and returns their first key', async () => {
    const { address, token } = await invite('TEAM_ADMIN');
    const res = await gql(server.url, Accept, { token, keyName: ' laptop ' }, { key: null });
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
    const { secret, apiKey } = res.data!.acceptInvitation;
    expect(apiKey).toMatchObject({ name: 'laptop', createdBy: { email: address, name: 'Invitee', role: 'TEAM_ADMIN' } });
    const who = await gql(server.url, Whoami, {}, { key: secret });
    expect(who.data!.viewer).toEqual({ user: { email: address, role: 'TEAM_ADMIN' }, team: { id: server.teamId } });
  });

  it('works once: a used token is UNAUTHENTICATED (401)', async () => {
    const { token } = await invite();
    expect((await gql(server.url, Accept, { token, keyName: 'first' })).errors).toBeUndefined();
    const again = await gql(server.url, Accept, { token, keyName: 'second' });
    expect(again.status).toBe(401);
    expect(codes(again)).toEqual(['UNAUTHENTICATED']);
    expect(again.errors![0].message).toMatch(/already used/);
  });

  it('two concurrent accepts: exactly one wins', async () => {
    const { token } = await invite();
    const results = await Promise.all([1, 2, 3].map((i) => gql(server.url, Accept, { token, keyName: `k${i}` })));
    expect(results.filter((r) => r.status === 200 && !r.errors)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(2);
  });

  it('an unknown or expired token is UNAUTHENTICATED (401)', async () => {
    const unknown = await gql(server.url, Accept, { token: 'kpinv_nothing', keyName: 'x' });
    expect(unknown.status).toBe(401);
    expect(codes(unknown)).toEqual(['UNAUTHENTICATED']);

    const { token } = await invite();
    await server.services.prisma.invitation.updateMany({
      where: { acceptedAt: null, expiresAt: { gt: new Date() } },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const expired = await gql(server.url, Accept, { token, keyName: 'x' });
    expect(expired.status).toBe(401);
    expect(expired.errors![0].message).toMatch(/expired/);
  });

  it('a bad key name is BAD_USER_INPUT and leaves the token usable', async () => {
    const { token } = await invite();
    const bad = await gql(server.url, Accept, { token, keyName: '   ' });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.errors![0].message).toMatch(/^keyName: /);
    expect((await gql(server.url, Accept, { token, keyName: 'ok' })).errors).toBeUndefined();
  });

  it('a key that is sent must be valid, even here', async () => {
    const { token } = await invite();
    const res = await gql(server.url, Accept, { token, keyName: 'x' }, { key: 'kp_garbage' });
    expect(res.status).toBe(401);
    expect(res.errors![0].extensions?.reason).toBe('malformed');
  });

  it('anonymous requests may run acceptInvitation only', async () => {
    const res = await gql(server.url, MembersQuery, {}, { key: null });
    expect(res.status).toBe(401);
  });
});
