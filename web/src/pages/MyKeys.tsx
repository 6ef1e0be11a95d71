// My API keys: list, generate (secret shown once), regenerate (with an optional overlap during
// which the old secret keeps working), rename, disable/enable, delete.
import { type FormEvent, useState } from 'react';
import { ApiError, request } from '../api';
import { OneTimeSecret } from '../components/OneTimeSecret';
import { StatusTag } from '../components/StatusTag';
import { graphql } from '../gql';
import type { MyKeysQuery } from '../gql/graphql';
import { useApiData } from '../useApi';

const MyKeysDoc = graphql(`
  query MyKeys {
    apiKeys(first: 500) {
      id name hint status createdAt expiresAt lastUsedAt lastUsedFrom previousSecretExpiresAt revokedAt revocationReason
    }
  }
`);
const GenerateDoc = graphql(`
  mutation DashGenerate($input: GenerateApiKeyInput!) { generateApiKey(input: $input) { secret apiKey { id } } }
`);
const RegenerateDoc = graphql(`
  mutation DashRegenerate($id: ID!, $overlapMinutes: Int) {
    regenerateApiKey(id: $id, overlapMinutes: $overlapMinutes) { secret apiKey { previousSecretExpiresAt } }
  }
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
const time = (iso: string) => new Date(iso).toLocaleString();

/** How long the old secret keeps working after a regeneration (SPEC §5: 0..1440 minutes). */
const OVERLAPS = [
  { minutes: 0, label: 'No: it stops at once' },
  { minutes: 60, label: '1 hour' },
  { minutes: 1440, label: '24 hours' },
] as const;

interface Regenerating {
  key: Key;
  overlapMinutes: number;
  error?: string;
}

export function MyKeys(props: { apiKey: string; ownKeyId: string | null; revision: number }) {
  const { data, error, reload: load, act } = useApiData(props.apiKey, MyKeysDoc, props.revision);
  const keys: Key[] | null = data?.apiKeys ?? null;
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [fieldErrors, setFieldErrors] = useState<Record<string, string | undefined>>({});
  const [secret, setSecret] = useState<{ label: string; value: string; note?: string } | null>(null);
  const [regenerating, setRegenerating] = useState<Regenerating | null>(null);

  const regenerate = async (event: FormEvent) => {
    event.preventDefault();
    if (!regenerating) return;
    const { key, overlapMinutes } = regenerating;
    try {
      const r = await request(props.apiKey, RegenerateDoc, { id: key.id, overlapMinutes });
      const until = r.regenerateApiKey.apiKey.previousSecretExpiresAt;
      setSecret({
        label: `New secret for “${key.name}”`,
        value: r.regenerateApiKey.secret,
        note: until ? `The previous secret keeps working until ${time(until)}.` : 'The previous secret no longer works.',
      });
      setRegenerating(null);
      load();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setRegenerating({ ...regenerating, error: e.forField('overlapMinutes') ?? e.readable });
    }
  };
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
      {secret && <OneTimeSecret label={secret.label} secret={secret.value} note={secret.note} onDone={() => setSecret(null)} />}
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
      {regenerating && (
        <form className="card stack" onSubmit={regenerate} aria-label={`Regenerate ${regenerating.key.name}`}>
          <h3>Regenerate “{regenerating.key.name}”</h3>
          <p>A new secret is shown once. The key keeps its id, name, status, limits and expiry.</p>
          <div className="field">
            <label htmlFor="regenerate-overlap">Keep the old secret working</label>
            <select
              id="regenerate-overlap"
              value={regenerating.overlapMinutes}
              onChange={(e) => setRegenerating({ ...regenerating, overlapMinutes: Number(e.target.value), error: undefined })}
              aria-invalid={Boolean(regenerating.error)}
              aria-describedby="regenerate-overlap-help regenerate-overlap-error"
            >
              {OVERLAPS.map((o) => (
                // A disabled key keeps no previous secret (re-enabling revives the new one only).
                <option key={o.minutes} value={o.minutes} disabled={o.minutes > 0 && regenerating.key.status !== 'ENABLED'}>
                  {o.label}
                </option>
              ))}
            </select>
            <span id="regenerate-overlap-help">
              {regenerating.overlapMinutes > 0
                ? `The old secret stops at about ${time(new Date(Date.now() + regenerating.overlapMinutes * 60_000).toISOString())}: switch your clients before then.`
                : 'The old secret stops working at once.'}
            </span>
            <span id="regenerate-overlap-error" className="field-error">
              {regenerating.error}
            </span>
          </div>
          <div className="row">
            <button type="submit">Regenerate now</button>
            <button type="button" onClick={() => setRegenerating(null)}>
              Cancel
            </button>
          </div>
        </form>
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
                  {k.previousSecretExpiresAt && (
                    <small className="overlap" data-testid="previous-secret-until">
                      {' '}
                      previous secret works until {time(k.previousSecretExpiresAt)}
                    </small>
                  )}
                </td>
                <td>{day(k.createdAt)}</td>
                <td>{day(k.expiresAt)}</td>
                <td>
                  {day(k.lastUsedAt)}
                  {k.lastUsedFrom && <small> from {k.lastUsedFrom}</small>}
                </td>
                <td className="actions">
                  {k.status !== 'REVOKED' && (
                    <>
                      <button type="button" onClick={() => setRenaming({ id: k.id, name: k.name })}>
                        Rename
                      </button>
                      <button type="button" onClick={() => setRegenerating({ key: k, overlapMinutes: 0 })}>
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
