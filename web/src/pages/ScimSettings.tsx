// SCIM provisioning in the team settings (admins, ENTERPRISE; SPEC §5): the switch for /scim/v2,
// the base URL to paste into the identity provider, and the team's SCIM API keys (generate,
// regenerate keeping the previous secret a while, revoke). A key's secret is shown once.
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { ApiError, request } from '../api';
import { OneTimeSecret } from '../components/OneTimeSecret';
import { StatusTag } from '../components/StatusTag';
import { graphql } from '../gql';
import type { ScimKeysQuery } from '../gql/graphql';

const ScimKeysDoc = graphql(`
  query ScimKeys {
    apiKeySettings { scimEnabled }
    scimApiKeys(first: 500) { id name hint status createdAt lastUsedAt previousSecretExpiresAt revokedAt revocationReason createdBy { name } }
  }
`);
const ScimSwitchDoc = graphql(`
  mutation DashScimSwitch($on: Boolean!) { updateApiKeySettings(input: { scimEnabled: $on }) { settings { scimEnabled } } }
`);
const GenerateScimDoc = graphql(`
  mutation DashGenerateScimKey($name: String!) { generateScimApiKey(name: $name) { secret scimApiKey { id } } }
`);
const RegenerateScimDoc = graphql(`
  mutation DashRegenerateScimKey($id: ID!, $hours: Int!) {
    regenerateScimApiKey(id: $id, keepPreviousForHours: $hours) { secret scimApiKey { id previousSecretExpiresAt } }
  }
`);
const RevokeScimDoc = graphql(`
  mutation DashRevokeScimKey($id: ID!) { revokeScimApiKey(id: $id) { id status } }
`);

/** How long a regenerated key's previous secret keeps working, as offered (0..168 h allowed). */
const KEEP_CHOICES = [
  { hours: 0, label: 'old secret stops now' },
  { hours: 1, label: 'keep old secret 1 h' },
  { hours: 24, label: 'keep old secret 24 h' },
  { hours: 168, label: 'keep old secret 7 days' },
];

type ScimKey = ScimKeysQuery['scimApiKeys'][number];

export function ScimSettings(props: { apiKey: string; revision: number }) {
  const [enabled, setEnabled] = useState(false);
  const [keys, setKeys] = useState<ScimKey[]>([]);
  const [name, setName] = useState('');
  const [keep, setKeep] = useState<Record<string, number>>({});
  const [secret, setSecret] = useState<{ secret: string; note?: string } | null>(null);
  const [error, setError] = useState<{ text: string; field?: 'name' } | null>(null);
  const baseUrl = `${location.origin}/scim/v2`;

  const fail = (e: unknown) => {
    if (!(e instanceof ApiError)) throw e;
    const forName = e.forField('name');
    setError(forName ? { text: forName, field: 'name' } : { text: e.readable });
  };
  const load = useCallback(() => {
    request(props.apiKey, ScimKeysDoc).then(
      (d) => {
        setEnabled(d.apiKeySettings.scimEnabled);
        setKeys(d.scimApiKeys);
      },
      (e: unknown) => setError({ text: e instanceof ApiError ? e.readable : String(e) }),
    );
  }, [props.apiKey]);
  useEffect(load, [load, props.revision]);

  const toggle = async (on: boolean) => {
    setError(null);
    setEnabled(on); // shown at once; the server's answer (or the old state, on a failure) follows
    try {
      const r = await request(props.apiKey, ScimSwitchDoc, { on });
      setEnabled(r.updateApiKeySettings.settings.scimEnabled);
    } catch (e) {
      setEnabled(!on);
      fail(e);
    }
  };
  const generate = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const r = await request(props.apiKey, GenerateScimDoc, { name });
      setSecret({ secret: r.generateScimApiKey.secret, note: `Paste it into your identity provider as the API token for ${baseUrl}.` });
      setName('');
      load();
    } catch (e) {
      fail(e);
    }
  };
  const regenerate = async (key: ScimKey) => {
    setError(null);
    try {
      const r = await request(props.apiKey, RegenerateScimDoc, { id: key.id, hours: keep[key.id] ?? 0 });
      const until = r.regenerateScimApiKey.scimApiKey.previousSecretExpiresAt;
      setSecret({
        secret: r.regenerateScimApiKey.secret,
        note: until
          ? `The previous secret keeps working until ${new Date(until).toLocaleString()}.`
          : 'The previous secret no longer works.',
      });
      load();
    } catch (e) {
      fail(e);
    }
  };
  const revoke = async (key: ScimKey) => {
    setError(null);
    try {
      await request(props.apiKey, RevokeScimDoc, { id: key.id });
      load();
    } catch (e) {
      fail(e);
    }
  };

  return (
    <section aria-labelledby="scim-title">
      <h2 id="scim-title">SCIM provisioning</h2>
      <div className="card stack">
        <label className="check">
          <input type="checkbox" checked={enabled} onChange={(e) => void toggle(e.target.checked)} />
          Enable SCIM provisioning (your identity provider creates and deactivates members)
        </label>
        <p>
          SCIM base URL: <code data-testid="scim-base-url">{baseUrl}</code> — authentication: HTTP header <code>Authorization: Bearer</code>{' '}
          with a SCIM API key.
        </p>
        <form className="row" onSubmit={(e) => void generate(e)}>
          <div className="field">
            <label htmlFor="scim-key-name">SCIM key name</label>
            <input
              id="scim-key-name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              aria-invalid={error?.field === 'name'}
              aria-describedby="scim-key-name-error"
            />
            <span id="scim-key-name-error" className="field-error">
              {error?.field === 'name' ? error.text : ''}
            </span>
          </div>
          <button type="submit">Generate SCIM key</button>
        </form>
        {secret && <OneTimeSecret label="Your new SCIM API key" secret={secret.secret} note={secret.note} onDone={() => setSecret(null)} />}
        {error && !error.field && (
          <p className="error" role="alert">
            {error.text}
          </p>
        )}
      </div>
      {keys.length === 0 ? (
        <p>No SCIM API keys yet.</p>
      ) : (
        <table aria-labelledby="scim-title">
          <thead>
            <tr>
              <th>Name</th>
              <th>Key</th>
              <th>Status</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Previous secret</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id} data-scim-key-id={k.id}>
                <td>{k.name}</td>
                <td>
                  <code>{k.hint}</code>
                </td>
                <td>
                  <StatusTag status={k.status} reason={k.revocationReason} revokedAt={k.revokedAt} />
                </td>
                <td>
                  {new Date(k.createdAt).toLocaleString()} <small>by {k.createdBy.name}</small>
                </td>
                <td>{k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never'}</td>
                <td>{k.previousSecretExpiresAt ? `works until ${new Date(k.previousSecretExpiresAt).toLocaleString()}` : '—'}</td>
                <td>
                  {k.status === 'ENABLED' && (
                    <div className="row">
                      <select
                        aria-label={`Keep the previous secret of ${k.name}`}
                        value={keep[k.id] ?? 0}
                        onChange={(e) => setKeep({ ...keep, [k.id]: Number(e.target.value) })}
                      >
                        {KEEP_CHOICES.map((c) => (
                          <option key={c.hours} value={c.hours}>
                            {c.label}
                          </option>
                        ))}
                      </select>
                      <button type="button" onClick={() => void regenerate(k)}>
                        Regenerate
                      </button>
                      <button type="button" className="danger" onClick={() => void revoke(k)}>
                        Revoke
                      </button>
                    </div>
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
