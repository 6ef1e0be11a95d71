// Collections: create, edit requests, share (a new access key each time, shown once), the team's
// access keys with collection, creator and date, and revoke.
import { type FormEvent, useEffect, useState } from 'react';
import { ApiError, request } from '../api';
import { OneTimeSecret } from '../components/OneTimeSecret';
import { StatusTag } from '../components/StatusTag';
import { graphql } from '../gql';
import type { DashCollectionsQuery } from '../gql/graphql';
import { useApiData } from '../useApi';

const CollectionsDoc = graphql(`
  query DashCollections {
    collections { id name description requests createdAt createdBy { name } }
    collectionAccessKeys { id hint status createdAt revokedAt revocationReason createdBy { name } collection { name deletedAt } }
  }
`);
const CreateDoc = graphql(`
  mutation DashCreateCollection($input: CollectionInput!) { createCollection(input: $input) { id } }
`);
const UpdateDoc = graphql(`
  mutation DashUpdateCollection($id: ID!, $input: CollectionInput!) { updateCollection(id: $id, input: $input) { id } }
`);
const DeleteDoc = graphql(`
  mutation DashDeleteCollection($id: ID!) { deleteCollection(id: $id) { id } }
`);
const ShareDoc = graphql(`
  mutation DashShare($id: ID!) { shareCollection(collectionId: $id) { secret } }
`);
const RevokeAccessDoc = graphql(`
  mutation DashRevokeAccess($id: ID!) { revokeCollectionAccessKey(id: $id) { id } }
`);

type Collection = DashCollectionsQuery['collections'][number];
const EXAMPLE = '[\n  { "name": "List users", "method": "GET", "url": "https://api.example.com/users" }\n]';

export function Collections(props: { apiKey: string; revision: number }) {
  const { data, error, reload: load, act } = useApiData(props.apiKey, CollectionsDoc, props.revision);
  const [editing, setEditing] = useState<{ id: string | null; name: string; requests: string } | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string | undefined>>({});
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!editing) return;
    let requests: unknown;
    try {
      requests = JSON.parse(editing.requests || '[]');
    } catch {
      setFieldErrors({ requests: 'Not valid JSON: a list of {name, method, url, headers, body}.' });
      return;
    }
    setFieldErrors({});
    try {
      const input = { name: editing.name, requests };
      if (editing.id) await request(props.apiKey, UpdateDoc, { id: editing.id, input });
      else await request(props.apiKey, CreateDoc, { input });
      setEditing(null);
      load();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const requestsError = e.errors.find((x) => x.field?.includes('requests'))?.message;
      setFieldErrors({
        name: e.forField('name'),
        requests: requestsError,
        form: e.forField('name') || requestsError ? undefined : e.readable,
      });
    }
  };

  const edit = (c: Collection | null) =>
    setEditing(c ? { id: c.id, name: c.name, requests: JSON.stringify(c.requests, null, 2) } : { id: null, name: '', requests: EXAMPLE });

  return (
    <section aria-labelledby="collections-title">
      <h2 id="collections-title">Collections</h2>
      {secret && <OneTimeSecret label={secret.label} secret={secret.value} onDone={() => setSecret(null)} />}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {editing ? (
        <form className="card stack" onSubmit={save} aria-label={editing.id ? 'Edit collection' : 'New collection'}>
          <div className="field">
            <label htmlFor="collection-name">Name</label>
            <input
              id="collection-name"
              value={editing.name}
              onChange={(e) => setEditing({ ...editing, name: e.target.value })}
              aria-invalid={Boolean(fieldErrors.name)}
              aria-describedby="collection-name-error"
            />
            <span id="collection-name-error" className="field-error">
              {fieldErrors.name}
            </span>
          </div>
          <div className="field wide">
            <label htmlFor="collection-requests">Requests (JSON)</label>
            <textarea
              id="collection-requests"
              rows={8}
              value={editing.requests}
              onChange={(e) => setEditing({ ...editing, requests: e.target.value })}
              aria-invalid={Boolean(fieldErrors.requests)}
              aria-describedby="collection-requests-error"
            />
            <span id="collection-requests-error" className="field-error">
              {fieldErrors.requests}
            </span>
          </div>
          <div className="row">
            <button type="submit">Save collection</button>
            <button type="button" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
          {fieldErrors.form && (
            <p className="error" role="alert">
              {fieldErrors.form}
            </p>
          )}
        </form>
      ) : (
        <button type="button" onClick={() => edit(null)}>
          New collection
        </button>
      )}
      <table aria-label="Collections">
        <thead>
          <tr>
            <th>Name</th>
            <th>Requests</th>
            <th>Created by</th>
            <th>Created</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.collections.map((c) => (
            <tr key={c.id}>
              <td>{c.name}</td>
              <td>{Array.isArray(c.requests) ? c.requests.length : 0}</td>
              <td>{c.createdBy.name}</td>
              <td>{new Date(c.createdAt).toLocaleDateString()}</td>
              <td className="actions">
                <button type="button" onClick={() => edit(c)}>
                  Edit
                </button>
                <button
                  type="button"
                  onClick={() =>
                    void act(async () => {
                      const r = await request(props.apiKey, ShareDoc, { id: c.id });
                      setSecret({ label: `A new read-only access key for “${c.name}”`, value: r.shareCollection.secret });
                    })
                  }
                >
                  Share
                </button>
                <button
                  type="button"
                  className="danger"
                  onClick={() =>
                    confirm(`Delete “${c.name}”? Its access keys are revoked.`) &&
                    void act(() => request(props.apiKey, DeleteDoc, { id: c.id }))
                  }
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2 id="access-keys-title">Collection access keys</h2>
      <table aria-labelledby="access-keys-title">
        <thead>
          <tr>
            <th>Key</th>
            <th>Collection</th>
            <th>Created by</th>
            <th>Created</th>
            <th>Status</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.collectionAccessKeys.map((k) => (
            <tr key={k.id}>
              <td>
                <code>{k.hint}</code>
              </td>
              <td>
                {k.collection.name}
                {k.collection.deletedAt && <small> (deleted)</small>}
              </td>
              <td>{k.createdBy.name}</td>
              <td>{new Date(k.createdAt).toLocaleDateString()}</td>
              <td>
                <StatusTag status={k.status} reason={k.revocationReason} revokedAt={k.revokedAt} />
              </td>
              <td>
                {k.status !== 'REVOKED' && (
                  <button
                    type="button"
                    className="danger"
                    onClick={() => confirm(`Revoke ${k.hint}?`) && void act(() => request(props.apiKey, RevokeAccessDoc, { id: k.id }))}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

const SharedCollectionDoc = graphql(`
  query DashSharedCollection($id: ID!) { collection(id: $id) { name description requests } }
`);

/** What a collection access key sees: its one collection, read-only. */
export function SharedCollection(props: { apiKey: string; collectionId: string }) {
  const [collection, setCollection] = useState<{ name: string; description?: string | null; requests: unknown } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    request(props.apiKey, SharedCollectionDoc, { id: props.collectionId }).then(
      (d) => (d.collection ? setCollection(d.collection) : setError('This collection no longer exists.')),
      (e: unknown) => setError(e instanceof ApiError ? e.readable : String(e)),
    );
  }, [props.apiKey, props.collectionId]);
  if (error)
    return (
      <p className="error" role="alert">
        {error}
      </p>
    );
  if (!collection) return <p>Loading…</p>;
  const requests = Array.isArray(collection.requests) ? (collection.requests as { name?: string; method?: string; url?: string }[]) : [];
  return (
    <section aria-labelledby="shared-title">
      <h2 id="shared-title">Collection “{collection.name}” (read-only)</h2>
      {collection.description && <p>{collection.description}</p>}
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Method</th>
            <th>URL</th>
          </tr>
        </thead>
        <tbody>
          {requests.map((r, i) => (
            <tr key={i}>
              <td>{r.name}</td>
              <td>{r.method}</td>
              <td>
                <code>{r.url}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
