// generateApiKey: a member issues a personal key to themselves, unless an admin turned that off
// for members (SPEC §4); the team's subscribers hear of it (apiKeyGenerated).
import type { AuditActor } from '../audit/actor.js';
import { isAdminRole, type Principal } from '../auth/principal.js';
import { forbidden } from '../domain/errors.js';
import type { ApiKey, PrismaClient } from '../generated/prisma/client.js';
import type { KeyplanePubSub } from '../realtime/pubsub.js';
import type { IssueKeyInput, KeyService } from './service.js';

export class KeyGeneration {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly keys: KeyService,
    private readonly pubsub: KeyplanePubSub,
  ) {}

  async generate(principal: Principal, input: IssueKeyInput, actor: AuditActor): Promise<{ apiKey: ApiKey; secret: string }> {
    if (!isAdminRole(principal.role)) {
      const team = await this.prisma.team.findUniqueOrThrow({
        where: { id: principal.teamId },
        select: { allowMembersToGenerateKeys: true },
      });
      if (!team.allowMembersToGenerateKeys) {
        throw forbidden('An admin has turned off API key generation for members of this team');
      }
    }
    const generated = await this.keys.issuePersonalKey({ userId: principal.userId, teamId: principal.teamId }, input, this.prisma, actor);
    this.pubsub.publish('apiKeyGenerated', principal.teamId, {
      keyId: generated.apiKey.id,
      createdById: generated.apiKey.createdById,
    });
    return generated;
  }
}
