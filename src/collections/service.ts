// Collections and their access keys. A collection access key reads one collection and nothing
// else; deleting a collection revokes its keys in the same transaction and keeps a tombstone.
import { z } from 'zod';
import { assertCollectionKeyRevoke } from '../auth/policy.js';
import type { Principal } from '../auth/principal.js';
import type { Collection, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { notFound } from '../graphql/errors.js';
import { parseOrThrow, validName } from '../graphql/input.js';
import { mintKey } from '../keys/service.js';
import { mergeRevocations, type RevocationService } from '../revocation/service.js';

const requestSchema = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']),
    url: z.url('must be an absolute URL').max(2048),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown().optional(),
  })
  .strict();
const requestsSchema = z.array(requestSchema).max(500, 'at most 500 requests');
const descriptionSchema = z.string().trim().max(2000, 'must be at most 2000 characters').nullable();

export interface CollectionInput {
  name: string;
  description?: string | null;
  requests?: unknown;
}

export class CollectionService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly revocation: RevocationService,
    private readonly pepper?: string,
  ) {}

  private validate(input: CollectionInput) {
    return {
      name: validName('input.name', input.name),
      description:
        input.description === undefined ? undefined : parseOrThrow('input.description', descriptionSchema, input.description),
      requests:
        input.requests === undefined ? undefined : (parseOrThrow('input.requests', requestsSchema, input.requests ?? []) as Prisma.InputJsonValue),
    };
  }

  /** What a principal may read: its team's live collections, or a collection key's one collection. */
  private visibleWhere(p: Principal, id: string): Prisma.CollectionWhereInput {
    if (p.keyKind === 'COLLECTION_ACCESS' && p.collectionId !== id) return { id: { in: [] } };
    return { id, teamId: p.teamId, deletedAt: null };
  }

  async find(p: Principal, id: string, query: { include?: Prisma.CollectionInclude; select?: Prisma.CollectionSelect } = {}) {
    const collection = await this.prisma.collection.findFirst({ ...query, where: this.visibleWhere(p, id) });
    if (!collection) throw notFound('Collection', id);
    return collection;
  }

  list(p: Principal, query: { include?: Prisma.CollectionInclude; select?: Prisma.CollectionSelect } = {}) {
    return this.prisma.collection.findMany({
      ...query,
      where: { teamId: p.teamId, deletedAt: null },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
  }

  create(p: Principal, input: CollectionInput): Promise<Collection> {
    const data = this.validate(input);
    return this.prisma.collection.create({
      data: { ...data, requests: data.requests ?? [], teamId: p.teamId, createdById: p.userId },
    });
  }

  async update(p: Principal, id: string, input: CollectionInput): Promise<Collection> {
    await this.find(p, id);
    const data = this.validate(input);
    return this.prisma.collection.update({ where: { id }, data });
  }

  /** Tombstones the collection and revokes its access keys, all in one transaction. */
  async delete(p: Principal, id: string): Promise<Collection> {
    await this.find(p, id);
    const now = new Date();
    const { collection, revoked } = await this.prisma.$transaction(async (tx) => {
      const collection = await tx.collection.update({ where: { id }, data: { deletedAt: now } });
      const byCreator = await this.revocation.revokeWhere(
        { collectionId: id, createdById: p.userId },
        { reason: 'REVOKED_BY_OWNER', actorId: p.userId, at: now },
        tx,
      );
      const byOthers = await this.revocation.revokeWhere(
        { collectionId: id },
        { reason: 'REVOKED_BY_ADMIN', actorId: p.userId, at: now },
        tx,
      );
      return { collection, revoked: mergeRevocations(byCreator, byOthers) };
    });
    this.revocation.announce(revoked);
    return collection;
  }

  /** A new key on every share; the secret is in this response only. */
  async share(p: Principal, collectionId: string) {
    const collection = await this.find(p, collectionId);
    const material = mintKey('COLLECTION_ACCESS', this.pepper);
    const accessKey = await this.prisma.apiKey.create({
      data: {
        teamId: p.teamId,
        kind: 'COLLECTION_ACCESS',
        name: collection.name,
        hash: material.hash,
        hint: material.hint,
        createdById: p.userId,
        collectionId: collection.id,
      },
    });
    return { accessKey, secret: material.secret };
  }

  async listAccessKeys(p: Principal, collectionId: string | null, query: { include?: Prisma.ApiKeyInclude; select?: Prisma.ApiKeySelect } = {}) {
    if (collectionId !== null) {
      // Tombstoned collections still list their (revoked) keys.
      const exists = await this.prisma.collection.count({ where: { id: collectionId, teamId: p.teamId } });
      if (!exists) throw notFound('Collection', collectionId);
    }
    return this.prisma.apiKey.findMany({
      ...query,
      where: { teamId: p.teamId, kind: 'COLLECTION_ACCESS', ...(collectionId !== null ? { collectionId } : {}) },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
  }

  async revokeAccessKey(p: Principal, id: string) {
    const key = await this.prisma.apiKey.findFirst({ where: { id, teamId: p.teamId, kind: 'COLLECTION_ACCESS' } });
    if (!key) throw notFound('Collection access key', id);
    assertCollectionKeyRevoke(p, key);
    const [revoked] = await this.revocation.revoke(
      { id },
      { reason: key.createdById === p.userId ? 'REVOKED_BY_OWNER' : 'REVOKED_BY_ADMIN', actorId: p.userId },
    );
    return revoked ?? key;
  }
}
