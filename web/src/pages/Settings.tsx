// API key settings (admins, ENTERPRISE), the team's exposed keys and SCIM provisioning.
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { ApiError, request } from '../api';
import { graphql } from '../gql';
import type { ExposedKeysAction, ExposuresQuery } from '../gql/graphql';
import { ScimSettings } from './ScimSettings';

const SettingsDoc = graphql(`
  query DashSettings { apiKeySettings { allowMembersToGenerateKeys keyExpiryDays autoRevokeExposedKeys expiryReminderDays } }
`);
const UpdateDoc = graphql(`
  mutation DashUpdateSettings($input: ApiKeySettingsInput!) {
    updateApiKeySettings(input: $input) {
      settings { allowMembersToGenerateKeys keyExpiryDays autoRevokeExposedKeys expiryReminderDays }
      updatedKeyCount expiredKeyCount openExposureCount warning
    }
  }
`);
const ExposuresDoc = graphql(`
  query Exposures { exposedApiKeys(includeResolved: true, first: 500) { id location source detectedAt resolved ignored apiKey { name hint lastUsedAt createdBy { name } } accessKey { hint } scimApiKey { name hint lastUsedAt } } }
`);

/** "7, 1" → [7, 1]; empty = no reminders; null when it is not a list of whole numbers. */
function parseReminderDays(text: string): number[] | null {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  return parts.every((p) => /^\d+$/.test(p)) ? parts.map(Number) : null;
}

/** When an exposed key was last used (a personal or a SCIM key; an access key's is not shown). */
function lastUsed(x: ExposuresQuery['exposedApiKeys'][number]): string {
  const at = (x.apiKey ?? x.scimApiKey)?.lastUsedAt;
  return at ? new Date(at).toLocaleString() : 'never';
}

type SettingsField = 'keyExpiryDays' | 'expiryReminderDays';

export function Settings(props: { apiKey: string; revision: number }) {
  const [allow, setAllow] = useState(true);
  const [days, setDays] = useState('');
  const [autoRevoke, setAutoRevoke] = useState(false);
  const [reminders, setReminders] = useState('7, 1');
  const [warning, setWarning] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<{ text: string; field?: SettingsField } | null>(null);
  const [exposures, setExposures] = useState<ExposuresQuery['exposedApiKeys']>([]);

  const loadSettings = useCallback(() => {
    request(props.apiKey, SettingsDoc).then(
      ({ apiKeySettings: s }) => {
        setAllow(s.allowMembersToGenerateKeys);
        setDays(s.keyExpiryDays == null ? '' : String(s.keyExpiryDays));
        setAutoRevoke(s.autoRevokeExposedKeys);
        setReminders(s.expiryReminderDays.join(', '));
      },
      (e: unknown) => setError({ text: e instanceof ApiError ? e.readable : String(e) }),
    );
  }, [props.apiKey]);
  const loadExposures = useCallback(() => {
    request(props.apiKey, ExposuresDoc).then(
      (d) => setExposures(d.exposedApiKeys),
      () => setExposures([]),
    );
  }, [props.apiKey]);
  const load = useCallback(() => {
    loadSettings();
    loadExposures();
  }, [loadSettings, loadExposures]);
  // The form is read once (live events must not wipe an edit under way); the exposures follow them.
  useEffect(loadSettings, [loadSettings]);
  useEffect(loadExposures, [loadExposures, props.revision]);

  const save = async (event: FormEvent | null, exposedKeysAction?: ExposedKeysAction) => {
    event?.preventDefault();
    setError(null);
    setResult(null);
    const reminderDays = parseReminderDays(reminders);
    if (!reminderDays) {
      setError({ text: 'whole numbers of days, separated by commas', field: 'expiryReminderDays' });
      return;
    }
    try {
      // Choosing REVOKE or IGNORE in the warning is choosing to turn auto revoke on.
      const input = {
        allowMembersToGenerateKeys: allow,
        keyExpiryDays: days === '' ? null : Number(days),
        autoRevokeExposedKeys: autoRevoke || exposedKeysAction !== undefined,
        exposedKeysAction,
        expiryReminderDays: reminderDays,
      };
      const { updateApiKeySettings: r } = await request(props.apiKey, UpdateDoc, { input });
      setWarning(
        r.warning
          ? `${r.openExposureCount} exposed key finding(s) are still open. Auto revoke stays off until you choose what happens to those keys:`
          : null,
      );
      setAutoRevoke(r.settings.autoRevokeExposedKeys);
      setReminders(r.settings.expiryReminderDays.join(', '));
      const expiries = `${r.updatedKeyCount} key expiries changed, ${r.expiredKeyCount} expired now.`;
      setResult(r.warning ? `Other settings saved. ${expiries}` : `Saved. ${expiries}`);
      load();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const field = (['keyExpiryDays', 'expiryReminderDays'] as const).find((f) => e.forField(f));
      setError({ text: (field && e.forField(field)) ?? e.readable, field });
    }
  };

  return (
    <section aria-labelledby="settings-title">
      <h2 id="settings-title">API key settings</h2>
      <form className="card stack" onSubmit={(e) => void save(e)}>
        <label className="check">
          <input type="checkbox" checked={allow} onChange={(e) => setAllow(e.target.checked)} />
          Allow anyone in your team to generate API keys
        </label>
        <div className="field">
          <label htmlFor="expiry-days">Set expiry for API keys (days; empty = never)</label>
          <input
            id="expiry-days"
            type="number"
            min="1"
            value={days}
            onChange={(e) => setDays(e.target.value)}
            aria-invalid={error?.field === 'keyExpiryDays'}
            aria-describedby="expiry-days-error"
          />
          <span id="expiry-days-error" className="field-error">
            {error?.field === 'keyExpiryDays' ? error.text : ''}
          </span>
        </div>
        <div className="field">
          <label htmlFor="reminder-days">Expiry reminders (days before a key expires, comma-separated; empty = none)</label>
          <input
            id="reminder-days"
            type="text"
            inputMode="numeric"
            value={reminders}
            onChange={(e) => setReminders(e.target.value)}
            aria-invalid={error?.field === 'expiryReminderDays'}
            aria-describedby="reminder-days-error"
          />
          <span id="reminder-days-error" className="field-error">
            {error?.field === 'expiryReminderDays' ? error.text : ''}
          </span>
        </div>
        <label className="check">
          <input type="checkbox" checked={autoRevoke} onChange={(e) => setAutoRevoke(e.target.checked)} />
          Auto revoke exposed API keys
        </label>
        <button type="submit">Save settings</button>
        {warning && (
          <div className="warning-box" role="alert">
            <p>{warning}</p>
            <div className="row">
              <button type="button" className="danger" onClick={() => void save(null, 'REVOKE')}>
                Revoke those keys and turn it on
              </button>
              <button type="button" onClick={() => void save(null, 'IGNORE')}>
                Ignore them and turn it on
              </button>
            </div>
          </div>
        )}
        {result && (
          <p className="notice" role="status">
            {result}
          </p>
        )}
        {error && !error.field && (
          <p className="error" role="alert">
            {error.text}
          </p>
        )}
      </form>
      <h2 id="exposed-title">Exposed API keys</h2>
      {exposures.length === 0 ? (
        <p>No exposed keys found.</p>
      ) : (
        <table aria-labelledby="exposed-title">
          <thead>
            <tr>
              <th>Key</th>
              <th>Owner</th>
              <th>Detected</th>
              <th>Last used</th>
              <th>Location</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {exposures.map((x) => (
              <tr key={x.id}>
                <td>
                  {x.apiKey
                    ? `${x.apiKey.name} (${x.apiKey.hint})`
                    : x.scimApiKey
                      ? `SCIM: ${x.scimApiKey.name} (${x.scimApiKey.hint})`
                      : x.accessKey?.hint}
                </td>
                <td>{x.apiKey?.createdBy.name ?? '—'}</td>
                <td>{new Date(x.detectedAt).toLocaleString()}</td>
                <td>{lastUsed(x)}</td>
                <td>
                  {x.location} <small>({x.source})</small>
                </td>
                <td>{x.resolved ? 'resolved (revoked)' : x.ignored ? 'ignored' : 'open'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ScimSettings apiKey={props.apiKey} revision={props.revision} />
    </section>
  );
}
