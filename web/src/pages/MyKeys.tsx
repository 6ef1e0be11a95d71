// My API keys: list, generate (secret shown once), regenerate, rename, disable/enable, delete.
import { type FormEvent, useState } from 'react';
import { ApiError, request } from '../api';
import { OneTimeSecret } from '../components/OneTimeSecret';
import { StatusTag } from '../components/StatusTag';
import { graphql } from '../gql';
import type { MyKeysQuery } from '../gql/graphql';
import { useApiData } from '../useApi';

const MyKeysDoc = graphql(`
  query MyKeys { apiKeys(first: 500) { id name hint status createdAt expiresAt lastUsedAt revokedAt revocationReason } }
`);
const GenerateDoc = graphql(`
  mutation DashGenerate($input: GenerateApiKeyInput!) { generateApiKey(input: $input) { secret apiKey { id } } }
`);
const RegenerateDoc = graphql(`
  mutation DashRegenerate($id: ID!) { regenerateApiKey(id: $id) { secret } }
`);
const RenameDoc = graphql(`
  mutation DashRename($id: ID!, $name: String!) { renameApiKey(id: $id, name: $name) { id } }
`);
const SetEnabledDoc = graphql(`
  mutation DashSetEnabled($id: ID!, $enabled: Boolean!) { setApiKeyEnabled(id: $id, enabled: $enabled) { id } }
`);
const DeleteDoc = graphql(`
  mutation DashDelete($id: ID!) { deleteApiKey(id: $id) { id } }
`);

type Key = MyKeysQuery['apiKeys'][number];
const day = (iso?: string | null) => (iso ? new Date(iso).toLocaleDateString() : '—');

export function MyKeys(props: { apiKey: string; ownKeyId: string | null; revision: number }) {
  const { data, error, reload: load, act } = useApiData(props.apiKey, MyKeysDoc, props.revision);
  const keys: Key[] | null = data?.apiKeys ?? null;
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [fieldErrors, setFieldErrors] = useState<Record<string, string | undefined>>({});
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [renaming, setRenaming] = useState<{ id: string; name: string; error?: string } | null>(null);

  const generate = async (event: FormEvent) => {
    event.preventDefault();
    setFieldErrors({});
    try {
      const input = { name, ...(days ? { expiresInDays: Number(days) } : {}) };
      const result = await request(props.apiKey, GenerateDoc, { input });
      setSecret({ label: `Your new key “${name.trim()}”`, value: result.generateApiKey.secret });
      setName('');
      setDays('');
      load();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const byField = { name: e.forField('name'), expiresInDays: e.forField('expiresInDays') ?? e.forField('expiresAt') };
      setFieldErrors(byField.name || byField.expiresInDays ? byField : { form: e.readable });
    }
  };

  return (
    <section aria-labelledby="my-keys-title">
      <h2 id="my-keys-title">My API keys</h2>
      {secret && <OneTimeSecret label={secret.label} secret={secret.value} onDone={() => setSecret(null)} />}
      <form className="card" onSubmit={generate} aria-label="Generate an API key">
        <div className="field">
          <label htmlFor="key-name">Name</label>
          <input
            id="key-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={Boolean(fieldErrors.name)}
            aria-describedby="key-name-error"
          />
          <span id="key-name-error" className="field-error">
            {fieldErrors.name}
          </span>
        </div>
        <div className="field">
          <label htmlFor="key-days">Expires in (days, empty = never)</label>
          <input
            id="key-days"
            type="number"
            min="1"
            value={days}
            onChange={(e) => setDays(e.target.value)}
            aria-invalid={Boolean(fieldErrors.expiresInDays)}
            aria-describedby="key-days-error"
          />
          <span id="key-days-error" className="field-error">
            {fieldErrors.expiresInDays}
          </span>
        </div>
        <button type="submit">Generate key</button>
        {fieldErrors.form && (
          <p className="error" role="alert">
            {fieldErrors.form}
          </p>
        )}
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {keys && keys.length >= 500 && <p>Showing your 500 newest keys (the API pages the rest).</p>}
      {keys === null ? (
        <p>Loading…</p>
      ) : keys.length === 0 ? (
        <p>No keys yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Key</th>
              <th>Status</th>
              <th>Created</th>
              <th>Expires</th>
              <th>Last used</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} data-key-id={k.id}>
                <td>
                  {renaming?.id === k.id ? (
                    <form
                      onSubmit={(e) => {
                        e.preventDefault();
                        request(props.apiKey, RenameDoc, { id: k.id, name: renaming.name }).then(
                          () => {
                            setRenaming(null);
                            load();
                          },
                          (err: unknown) =>
                            setRenaming({
                              ...renaming,
                              error: err instanceof ApiError ? (err.forField('name') ?? err.readable) : String(err),
                            }),
                        );
                      }}
                    >
                      <label className="sr-only" htmlFor={`rename-${k.id}`}>
                        New name
                      </label>
                      <input
                        id={`rename-${k.id}`}
                        value={renaming.name}
                        onChange={(e) => setRenaming({ id: k.id, name: e.target.value })}
                        aria-invalid={Boolean(renaming.error)}
                        aria-describedby={`rename-${k.id}-error`}
                      />
                      <button type="submit">Save</button>
                      <span id={`rename-${k.id}-error`} className="field-error">
                        {renaming.error}
                      </span>
                    </form>
                  ) : (
                    <>
                      {k.name}
                      {k.id === props.ownKeyId && <em> (this session)</em>}
                    </>
                  )}
                </td>
                <td>
                  <code>{k.hint}</code>
                </td>
                <td>
                  <StatusTag status={k.status} reason={k.revocationReason} revokedAt={k.revokedAt} />
                </td>
                <td>{day(k.createdAt)}</td>
                <td>{day(k.expiresAt)}</td>
                <td>{day(k.lastUsedAt)}</td>
                <td className="actions">
                  {k.status !== 'REVOKED' && (
                    <>
                      <button type="button" onClick={() => setRenaming({ id: k.id, name: k.name })}>
                        Rename
                      </button>
                      <button
                        type="button"
                        onClick={() =>
                          confirm(`Regenerate “${k.name}”? The current secret stops working at once.`) &&
                          void act(async () => {
                            const r = await request(props.apiKey, RegenerateDoc, { id: k.id });
                            setSecret({ label: `New secret for “${k.name}”`, value: r.regenerateApiKey.secret });
                          })
                        }
                      >
                        Regenerate
                      </button>
                      <button
                        type="button"
                        onClick={() => void act(() => request(props.apiKey, SetEnabledDoc, { id: k.id, enabled: k.status !== 'ENABLED' }))}
                      >
                        {k.status === 'ENABLED' ? 'Disable' : 'Enable'}
                      </button>
                      <button
                        type="button"
                        className="danger"
                        onClick={() =>
                          confirm(`Delete “${k.name}”? It stops working at once; this cannot be undone.`) &&
                          void act(() => request(props.apiKey, DeleteDoc, { id: k.id }))
                        }
                      >
                        Delete
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
