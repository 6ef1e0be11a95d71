import { ApiKeyStatus, KeyKind, Plan, RevocationReason, TeamRole } from '../generated/prisma/enums.js';
import { builder } from './builder.js';

export const KeyKindEnum = builder.enumType(KeyKind, { name: 'KeyKind' });
export const PlanEnum = builder.enumType(Plan, { name: 'Plan' });
export const TeamRoleEnum = builder.enumType(TeamRole, { name: 'TeamRole' });
export const ApiKeyStatusEnum = builder.enumType(ApiKeyStatus, { name: 'ApiKeyStatus' });
export const RevocationReasonEnum = builder.enumType(RevocationReason, { name: 'RevocationReason' });
