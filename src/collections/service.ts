// Collections and their access keys. A collection access key reads one collection and nothing
// else; deleting a collection revokes its keys in the same transaction and keeps a tombstone.
// A team holds at most maxCollectionsPerTeam live collections of at most maxCollectionBytes of
// requests each, and every list is paged (SPEC §5 bounded answers).
import { z } from 'zod';
import { type AuditActor, actorOfPrincipal } from '../audit/actor.js';
import { recordAudit } from '../audit/record.js';
import { assertCollectionDelete, assertCollectionKeyRevoke } from '../auth/policy.js';
import type { Principal } from '../auth/principal.js';
import type { Config } from '../config.js';
import { capReached, notFound } from '../domain/errors.js';
import { nameField, parseOrThrow, requestUrl, text, validName } from '../domain/input.js';
import { type ListArgs, listPage } from '../domain/list-page.js';
import type { Collection, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { displayHint } from '../keys/format.js';
import { mintKey } from '../keys/service.js';
import type { RevocationService } from '../revocation/service.js';
import { enqueueWebhookEvents } from '../webhooks/outbox.js';

const MAX_REQUESTS = 500;
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_FORBIDDEN = /[\u0000-\u0008\u000a-\u001f\u007f]/;

const requestSchema = z
  .object({
    name: nameField,
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']),
    url: requestUrl,
    headers: z
      .record(
        z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/, 'must be an HTTP header name'),
        text(8192).refine((v) => !HEADER_VALUE_FORBIDDEN.test(v), 'must not contain control characters'),
      )
      .optional(),
    body: z.unknown().optional(),
  })
  .strict();
const requestsSchema = z.array(requestSchema).max(MAX_REQUESTS, `at most ${MAX_REQUESTS} requests`);
const descriptionSchema = text(2000, { trim: true }).nullable();

export interface CollectionInput {
  name: string;
  description?: string | null;
  requests?: unknown;
}

export type CollectionLimits = Pick<Config, 'maxCollectionsPerTeam' | 'maxCollectionBytes'>;

type CollectionQuery = { include?: Prisma.CollectionInclude; select?: Prisma.CollectionSelect };
type AccessKeyQuery = { include?: Prisma.ApiKeyInclude; select?: Prisma.ApiKeySelect };

const target = (c: Collection) => ({ teamId: c.teamId, targetType: 'collection' as const, targetId: c.id });
const label = (c: Collection) => `collection ${JSON.stringify(c.name)}`;

export class CollectionService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly revocation: RevocationService,
    private readonly pepper: string | undefined,
    private readonly limits: CollectionLimits,
    /** See KeyService's `minted`. */
    private readonly minted: (hash: string) => void = () => {},
  ) {}

  private validate(input: CollectionInput) {
    let requests: Prisma.InputJsonValue | undefined;
    if (input.requests !== undefined) {
      const value = input.requests ?? [];
      const bytes = Buffer.byteLength(JSON.stringify(value));
      if (bytes > this.limits.maxCollectionBytes) {
        throw capReached('input.requests', `at most ${this.limits.maxCollectionBytes} bytes of JSON (got ${bytes})`, 'maxCollectionBytes');
      }
      if (Array.isArray(value) && value.length > MAX_REQUESTS) {
        throw capReached('input.requests', `at most ${MAX_REQUESTS} requests`, 'maxRequestsPerCollection');
      }
      requests = parseOrThrow('input.requests', requestsSchema, value) as Prisma.InputJsonValue;
    }
    return {
      name: validName('input.name', input.name),
      description: input.description === undefined ? undefined : parseOrThrow('input.description', descriptionSchema, input.description),
      requests,
    };
  }

  /** What a principal may read: its team's live collections, or a collection key's one collection. */
  private visibleWhere(p: Principal, id: string): Prisma.CollectionWhereInput {
    if (p.keyKind === 'COLLECTION_ACCESS' && p.collectionId !== id) return { id: { in: [] } };
    return { id, teamId: p.teamId, deletedAt: null };
  }

  async find(p: Principal, id: string, query: CollectionQuery = {}) {
    const collection = await this.prisma.collection.findFirst({ ...query, where: this.visibleWhere(p, id) });
    if (!collection) throw notFound('Collection', id);
    return collection;
  }

  /** Newest first, `first` at a time; `after` is the last id of the previous page. */
  async list(p: Principal, args: ListArgs = {}, query: CollectionQuery = {}) {
    const live: Prisma.CollectionWhereInput = { teamId: p.teamId, deletedAt: null };
    const page = await listPage(
      args,
      // A collection deleted since the previous page still marks where it ended.
      async (id) =>
        (await this.prisma.collection.findFirst({ where: { teamId: p.teamId, id }, select: { createdAt: true } }))?.createdAt ?? null,
      'createdAt',
      'desc',
    );
    return this.prisma.collection.findMany({
      ...query,
      where: page.after ? { AND: [live, page.after as Prisma.CollectionWhereInput] } : live,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: page.take,
    });
  }

  /** Counted under the team row's lock: concurrent creates cannot pass the cap together. */
  async create(p: Principal, input: CollectionInput, actor: AuditActor = actorOfPrincipal(p, {})): Promise<Collection> {
    const data = this.validate(input);
    const max = this.limits.maxCollectionsPerTeam;
    return this.prisma.$transaction(async (tx) => {
      await tx.$queryRawUnsafe('SELECT 1 FROM "Team" WHERE "id" = $1 FOR UPDATE', p.teamId);
      const live = await tx.collection.count({ where: { teamId: p.teamId, deletedAt: null } });
      if (live >= max) throw capReached('input', `a team holds at most ${max} collections: delete one first`, 'maxCollectionsPerTeam');
      const collection = await tx.collection.create({
        data: { ...data, requests: data.requests ?? [], teamId: p.teamId, createdById: p.userId },
      });
      await recordAudit(tx, actor, [{ ...target(collection), action: 'collection.created', summary: `Created ${label(collection)}` }]);
      return collection;
    });
  }

  async update(p: Principal, id: string, input: CollectionInput, actor: AuditActor = actorOfPrincipal(p, {})): Promise<Collection> {
    const before = await this.find(p, id);
    const data = this.validate(input);
    return this.prisma.$transaction(async (tx) => {
      const collection = await tx.collection.update({ where: { id }, data });
      const changed = [
        before.name !== collection.name ? `name ${JSON.stringify(before.name)} → ${JSON.stringify(collection.name)}` : null,
        data.description !== undefined && before.description !== collection.description ? 'description' : null,
        data.requests !== undefined ? 'requests' : null,
      ].filter(Boolean);
      await recordAudit(tx, actor, [
        {
          ...target(collection),
          action: 'collection.updated',
          summary: `Updated ${label(collection)}: ${changed.join(', ') || 'no change'}`,
        },
      ]);
      return collection;
    });
  }

  /**
   * By its creator or an admin (others: FORBIDDEN, nothing changed). Tombstones the collection
   * and revokes its access keys (reason COLLECTION_DELETED), all in one transaction.
   */
  async delete(p: Principal, id: string, actor: AuditActor = actorOfPrincipal(p, {})): Promise<Collection> {
    const found = await this.find(p, id);
    assertCollectionDelete(p, found);
    const now = new Date();
    return this.revocation.transaction(async (tx, revoke) => {
      // Only the first of concurrent deletes tombstones it; the others find it gone.
      const [collection] = await tx.collection.updateManyAndReturn({ where: { id, deletedAt: null }, data: { deletedAt: now } });
      if (!collection) throw notFound('Collection', id);
      await recordAudit(tx, actor, [{ ...target(collection), action: 'collection.deleted', summary: `Deleted ${label(collection)}` }], now);
      await revoke.where({ collectionId: id }, { reason: 'COLLECTION_DELETED', actorId: p.userId, actor, at: now });
      return collection;
    });
  }

  /** A new key on every share; the secret is in this response only. */
  async share(p: Principal, collectionId: string, actor: AuditActor = actorOfPrincipal(p, {})) {
    const collection = await this.find(p, collectionId);
    const material = mintKey('COLLECTION_ACCESS', this.pepper);
    this.minted(material.hash);
    const accessKey = await this.prisma.$transaction(async (tx) => {
      const created = await tx.apiKey.create({
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
      await recordAudit(tx, actor, [
        {
          ...target(collection),
          action: 'collection.shared',
          summary: `Shared ${label(collection)}: access key ${created.id} (${displayHint('COLLECTION_ACCESS', created.hint)})`,
        },
      ]);
      // Audited as a change of the collection; to webhooks it is a new key.
      await enqueueWebhookEvents(tx, actor, [{ type: 'api_key.created', teamId: p.teamId, keyId: created.id }]);
      return created;
    });
    return { accessKey, secret: material.secret };
  }

  /** Newest first, `first` at a time; `after` is the last id of the previous page. */
  async listAccessKeys(p: Principal, collectionId: string | null, args: ListArgs = {}, query: AccessKeyQuery = {}) {
    if (collectionId !== null) {
      // Tombstoned collections still list their (revoked) keys.
      const exists = await this.prisma.collection.count({ where: { id: collectionId, teamId: p.teamId } });
      if (!exists) throw notFound('Collection', collectionId);
    }
    const scope: Prisma.ApiKeyWhereInput = {
      teamId: p.teamId,
      kind: 'COLLECTION_ACCESS',
      ...(collectionId !== null ? { collectionId } : {}),
    };
    const page = await listPage(
      args,
      async (id) => (await this.prisma.apiKey.findFirst({ where: { ...scope, id }, select: { createdAt: true } }))?.createdAt ?? null,
      'createdAt',
      'desc',
    );
    return this.prisma.apiKey.findMany({
      ...query,
      where: page.after ? { AND: [scope, page.after as Prisma.ApiKeyWhereInput] } : scope,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: page.take,
    });
  }

  async revokeAccessKey(p: Principal, id: string, actor: AuditActor = actorOfPrincipal(p, {})) {
    const key = await this.prisma.apiKey.findFirst({ where: { id, teamId: p.teamId, kind: 'COLLECTION_ACCESS' } });
    if (!key) throw notFound('Collection access key', id);
    assertCollectionKeyRevoke(p, key);
    const [revoked] = await this.revocation.revoke(
      { id },
      { reason: key.createdById === p.userId ? 'REVOKED_BY_OWNER' : 'REVOKED_BY_ADMIN', actorId: p.userId, actor },
    );
    return revoked ?? key;
  }
}
