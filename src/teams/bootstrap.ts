// Creating a team with its first Super Admin and key: on first start and by `keyplane bootstrap`.
import { z } from 'zod';
import { SYSTEM_ACTOR } from '../audit/actor.js';
import { nameField } from '../domain/input.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Plan } from '../generated/prisma/enums.js';
import type { KeyService } from '../keys/service.js';
import { emailSchema } from './email.js';

export const bootstrapInput = z.object({
  team: nameField,
  email: emailSchema,
  name: nameField.optional(),
  plan: z.enum(['FREE', 'ENTERPRISE']).default('ENTERPRISE'),
});

export type BootstrapInput = z.input<typeof bootstrapInput>;

export interface BootstrapResult {
  teamId: string;
  userId: string;
  apiKey: string;
}

const BOOTSTRAP_LOCK = 4_812_009; // serialises first-start bootstraps of instances sharing a database

export async function bootstrapTeam(
  prisma: PrismaClient,
  keys: KeyService,
  raw: BootstrapInput,
  options: { onlyIfEmpty?: boolean } = {},
): Promise<BootstrapResult | null> {
  const input = bootstrapInput.parse(raw);
  return prisma.$transaction(async (tx) => {
    if (options.onlyIfEmpty) {
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`);
      if ((await tx.team.count()) > 0) return null;
    }
    const team = await tx.team.create({ data: { name: input.team, plan: input.plan as Plan } });
    const user = await tx.user.create({
      data: {
        teamId: team.id,
        email: input.email.toLowerCase(),
        name: input.name ?? input.email.split('@')[0],
        role: 'SUPER_ADMIN',
      },
    });
    const { secret } = await keys.issuePersonalKey({ userId: user.id, teamId: team.id }, { name: 'Bootstrap admin key' }, tx, SYSTEM_ACTOR);
    return { teamId: team.id, userId: user.id, apiKey: secret };
  });
}
