// Test data made through the real services (the same code the API runs).
import type { TeamRole } from '../../src/generated/prisma/enums.js';
import { bootstrapTeam } from '../../src/teams/bootstrap.js';
import type { TestServer } from './server.js';

let counter = 0;

export async function addUser(server: TestServer, teamId: string, role: TeamRole = 'MEMBER') {
  counter += 1;
  const user = await server.services.prisma.user.create({
    data: { teamId, role, email: `user${counter}-${Date.now()}@example.com`, name: `User ${counter}` },
  });
  const { apiKey, secret } = await server.services.keys.issuePersonalKey(
    { userId: user.id, teamId },
    { name: `${role.toLowerCase()} key ${counter}` },
  );
  return { user, apiKey, key: secret };
}

export async function addTeam(server: TestServer, plan: 'FREE' | 'ENTERPRISE' = 'ENTERPRISE') {
  counter += 1;
  const result = await bootstrapTeam(server.services.prisma, server.services.keys, {
    team: `Team ${counter}`,
    email: `owner${counter}-${Date.now()}@example.com`,
    plan,
  });
  return result!;
}

export async function viewerTeamId(server: TestServer, key: string) {
  const outcome = await server.services.auth.authenticate(key);
  if (!outcome.ok) throw new Error(outcome.message);
  return outcome.principal.teamId;
}
