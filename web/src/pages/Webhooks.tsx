// Webhooks (admins, ENTERPRISE; SPEC §5): the team's endpoints, created or edited with the event
// types they subscribe to, deleted, their signing secret rotated (each secret shown once), a test
// event sent, and each endpoint's recent deliveries with status, attempts and the last error.
import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, request } from '../api';
import { OneTimeSecret } from '../components/OneTimeSecret';
import { graphql } from '../gql';
import type { WebhookDeliveriesQuery, WebhookEndpointsQuery } from '../gql/graphql';
import { readable, useApiData } from '../useApi';

const WebhookEndpointsDoc = graphql(`
  query WebhookEndpoints { webhookEndpoints { id url description eventTypes enabled disabledReason createdAt } }
`);
const WebhookDeliveriesDoc = graphql(`
  query WebhookDeliveries($endpointId: ID!, $first: Int, $after: String) {
    webhookDeliveries(endpointId: $endpointId, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id eventId eventType status attempts lastAttemptAt nextAttemptAt responseStatus lastError } }
    }
  }
`);
const CreateWebhookDoc = graphql(`
  mutation DashCreateWebhook($input: WebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id } } }
`);
const UpdateWebhookDoc = graphql(`
  mutation DashUpdateWebhook($id: ID!, $input: WebhookEndpointInput!) { updateWebhookEndpoint(id: $id, input: $input) { id } }
`);
const DeleteWebhookDoc = graphql(`
  mutation DashDeleteWebhook($id: ID!) { deleteWebhookEndpoint(id: $id) { id } }
`);
const RotateWebhookDoc = graphql(`
  mutation DashRotateWebhookSecret($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { id } } }
`);
const SendTestWebhookDoc = graphql(`
  mutation DashSendTestWebhook($id: ID!) { sendTestWebhook(id: $id) { id } }
`);

/** The event types an endpoint may subscribe to (SPEC §5); the API refuses any other. */
const EVENT_TYPES: [type: string, meaning: string][] = [
  ['api_key.created', 'a key was created'],
  ['api_key.rotated', 'a key was regenerated'],
  ['api_key.expiring', 'a key comes within a reminder threshold of its expiry'],
  ['api_key.revoked', 'a key was revoked (by a person, on expiry, on exposure or deprovisioning)'],
  ['api_key.exposed', 'a key was reported exposed by a scanner'],
  ['member.deprovisioned', 'the identity provider deactivated or deleted a member'],
];
const DELIVERIES_PAGE = 20;
/** Bounds of the wait before a shown pending delivery is read again (see Deliveries). */
const PENDING_POLL_MIN_MS = 2_000;
const PENDING_POLL_MAX_MS = 5 * 60_000;

type Endpoint = WebhookEndpointsQuery['webhookEndpoints'][number];
type Delivery = WebhookDeliveriesQuery['webhookDeliveries']['edges'][number]['node'];
type Draft = { id: string | null; url: string; description: string; eventTypes: string[]; enabled: boolean };
type DraftField = 'url' | 'description' | 'eventTypes';

const when = (at: string | null | undefined) => (at ? new Date(at).toLocaleString() : '—');

export function Webhooks(props: { apiKey: string; revision: number }) {
  const { data, error, reload, act } = useApiData(props.apiKey, WebhookEndpointsDoc, props.revision);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<DraftField | 'form', string>>>({});
  const [secret, setSecret] = useState<{ label: string; value: string; note: string } | null>(null);
  const [shown, setShown] = useState<string | null>(null); // the endpoint whose deliveries are listed
  const [deliveriesRevision, setDeliveriesRevision] = useState(0);
  const endpoints = data?.webhookEndpoints ?? [];
  const shownEndpoint = endpoints.find((e) => e.id === shown);

  const edit = (e: Endpoint | null) => {
    setFieldErrors({});
    setDraft(
      e
        ? { id: e.id, url: e.url, description: e.description ?? '', eventTypes: e.eventTypes, enabled: e.enabled }
        : { id: null, url: '', description: '', eventTypes: [], enabled: true },
    );
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!draft) return;
    if (draft.eventTypes.length === 0) return setFieldErrors({ eventTypes: 'Choose at least one event type.' });
    setFieldErrors({});
    // updateWebhookEndpoint replaces every setting with this input, so the whole form is sent.
    const input = {
      url: draft.url.trim(),
      description: draft.description.trim() || null,
      eventTypes: draft.eventTypes,
      enabled: draft.enabled,
    };
    try {
      if (draft.id) {
        await request(props.apiKey, UpdateWebhookDoc, { id: draft.id, input });
      } else {
        const r = await request(props.apiKey, CreateWebhookDoc, { input });
        setSecret({
          label: `Signing secret of ${input.url}`,
          value: r.createWebhookEndpoint.secret,
          note: 'Verify the webhook-signature header of each delivery with it (Standard Webhooks).',
        });
      }
      setDraft(null);
      reload();
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      // The API names the input field (e.g. "input.url", "input.eventTypes.2").
      const about = (field: DraftField) => e.forField(field) ?? e.errors.find((x) => x.field?.includes(field))?.message;
      const errors = { url: about('url'), description: about('description'), eventTypes: about('eventTypes') };
      setFieldErrors({ ...errors, form: Object.values(errors).some(Boolean) ? undefined : e.readable });
    }
  };

  const rotate = (e: Endpoint) =>
    act(async () => {
      const r = await request(props.apiKey, RotateWebhookDoc, { id: e.id });
      setSecret({
        label: `New signing secret of ${e.url}`,
        value: r.rotateWebhookSecret.secret,
        note: 'The old secret keeps signing for 24 h: until then each delivery carries both signatures, so receivers can switch without missing one.',
      });
    });
  const sendTest = (e: Endpoint) =>
    act(async () => {
      await request(props.apiKey, SendTestWebhookDoc, { id: e.id });
      setShown(e.id);
      setDeliveriesRevision((r) => r + 1);
    });
  const remove = (e: Endpoint) =>
    confirm(`Delete the webhook endpoint ${e.url}? It receives no more events and its deliveries are deleted; this cannot be undone.`) &&
    void act(async () => {
      await request(props.apiKey, DeleteWebhookDoc, { id: e.id });
      if (shown === e.id) setShown(null);
    });

  return (
    <section aria-labelledby="webhooks-title">
      <h2 id="webhooks-title">Webhooks</h2>
      <p className="hint">Key events are sent to these URLs, signed per Standard Webhooks, and retried with backoff until they succeed.</p>
      {secret && <OneTimeSecret label={secret.label} secret={secret.value} note={secret.note} onDone={() => setSecret(null)} />}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {draft ? (
        <EndpointForm draft={draft} errors={fieldErrors} onChange={setDraft} onSubmit={save} onCancel={() => setDraft(null)} />
      ) : (
        <button type="button" onClick={() => edit(null)}>
          New endpoint
        </button>
      )}
      {data && endpoints.length === 0 ? (
        <p>No webhook endpoints yet.</p>
      ) : (
        <table aria-label="Webhook endpoints">
          <thead>
            <tr>
              <th>URL</th>
              <th>Description</th>
              <th>Event types</th>
              <th>Status</th>
              <th>Created</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {endpoints.map((e) => (
              <tr key={e.id} data-endpoint-id={e.id}>
                <td>
                  <code>{e.url}</code>
                </td>
                <td>{e.description}</td>
                <td>
                  {e.eventTypes.map((t) => (
                    <code key={t} className="event-type">
                      {t}
                    </code>
                  ))}
                </td>
                <td>
                  <span className={`tag tag-${e.enabled ? 'enabled' : 'disabled'}`}>{e.enabled ? 'ENABLED' : 'DISABLED'}</span>
                  {!e.enabled && e.disabledReason && <small className="disabled-reason"> {e.disabledReason}</small>}
                </td>
                <td>{new Date(e.createdAt).toLocaleDateString()}</td>
                <td className="actions">
                  <button type="button" onClick={() => edit(e)}>
                    Edit
                  </button>
                  <button type="button" onClick={() => void sendTest(e)}>
                    Send test
                  </button>
                  <button type="button" aria-pressed={shown === e.id} onClick={() => setShown(shown === e.id ? null : e.id)}>
                    Deliveries
                  </button>
                  <button type="button" onClick={() => void rotate(e)}>
                    Rotate secret
                  </button>
                  <button type="button" className="danger" onClick={() => remove(e)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {shownEndpoint && (
        <Deliveries key={shownEndpoint.id} apiKey={props.apiKey} endpoint={shownEndpoint} revision={props.revision + deliveriesRevision} />
      )}
    </section>
  );
}

function EndpointForm(props: {
  draft: Draft;
  errors: Partial<Record<DraftField | 'form', string>>;
  onChange: (draft: Draft) => void;
  onSubmit: (event: FormEvent) => void;
  onCancel: () => void;
}) {
  const { draft, errors, onChange } = props;
  const toggleType = (type: string, on: boolean) =>
    onChange({ ...draft, eventTypes: on ? [...draft.eventTypes, type] : draft.eventTypes.filter((t) => t !== type) });
  return (
    <form className="card stack" onSubmit={props.onSubmit} aria-label={draft.id ? 'Edit webhook endpoint' : 'New webhook endpoint'}>
      <div className="field wide">
        <label htmlFor="webhook-url">Endpoint URL</label>
        <input
          id="webhook-url"
          type="url"
          placeholder="https://hooks.example.com/keyplane"
          value={draft.url}
          onChange={(e) => onChange({ ...draft, url: e.target.value })}
          aria-invalid={Boolean(errors.url)}
          aria-describedby="webhook-url-error"
        />
        <span id="webhook-url-error" className="field-error">
          {errors.url}
        </span>
      </div>
      <div className="field wide">
        <label htmlFor="webhook-description">Description</label>
        <input
          id="webhook-description"
          value={draft.description}
          onChange={(e) => onChange({ ...draft, description: e.target.value })}
          aria-invalid={Boolean(errors.description)}
          aria-describedby="webhook-description-error"
        />
        <span id="webhook-description-error" className="field-error">
          {errors.description}
        </span>
      </div>
      <fieldset className="event-types" aria-describedby="webhook-event-types-error" aria-invalid={Boolean(errors.eventTypes)}>
        <legend>Event types</legend>
        {EVENT_TYPES.map(([type, meaning]) => (
          <label key={type} className="check">
            <input type="checkbox" checked={draft.eventTypes.includes(type)} onChange={(e) => toggleType(type, e.target.checked)} />
            <code>{type}</code> <small>{meaning}</small>
          </label>
        ))}
        <span id="webhook-event-types-error" className="field-error">
          {errors.eventTypes}
        </span>
      </fieldset>
      <label className="check">
        <input type="checkbox" checked={draft.enabled} onChange={(e) => onChange({ ...draft, enabled: e.target.checked })} />
        Enabled (a disabled endpoint receives nothing)
      </label>
      <div className="row">
        <button type="submit">{draft.id ? 'Save endpoint' : 'Create endpoint'}</button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
      {errors.form && (
        <p className="error" role="alert">
          {errors.form}
        </p>
      )}
    </form>
  );
}

/** An endpoint's deliveries, newest first, 20 at a time; pending ones are read again until settled. */
function Deliveries(props: { apiKey: string; endpoint: Endpoint; revision: number }) {
  const [rows, setRows] = useState<Delivery[]>([]);
  const [totalCount, setTotalCount] = useState<number | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const latest = useRef(0);
  const shownCount = useRef(DELIVERIES_PAGE);
  const endpointId = props.endpoint.id;

  /** Reads again from the newest, as many as are shown (a refresh keeps what "Load more" added). */
  const refresh = useCallback(() => {
    const ticket = ++latest.current; // a slower, older response never replaces a newer one
    setLoading(true);
    request(props.apiKey, WebhookDeliveriesDoc, { endpointId, first: Math.min(shownCount.current, 500) }).then(
      ({ webhookDeliveries: d }) => {
        if (ticket !== latest.current) return;
        setRows(d.edges.map((e) => e.node));
        setTotalCount(d.totalCount);
        setNext(d.pageInfo.hasNextPage ? (d.pageInfo.endCursor ?? null) : null);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (ticket !== latest.current) return;
        setError(readable(e));
        setLoading(false);
      },
    );
  }, [props.apiKey, endpointId]);
  useEffect(refresh, [refresh, props.revision]);

  const loadMore = () => {
    if (!next) return;
    const ticket = ++latest.current;
    setLoading(true);
    request(props.apiKey, WebhookDeliveriesDoc, { endpointId, first: DELIVERIES_PAGE, after: next }).then(
      ({ webhookDeliveries: d }) => {
        if (ticket !== latest.current) return;
        setRows((list) => {
          const merged = [...list, ...d.edges.map((e) => e.node)];
          shownCount.current = merged.length;
          return merged;
        });
        setTotalCount(d.totalCount);
        setNext(d.pageInfo.hasNextPage ? (d.pageInfo.endCursor ?? null) : null);
        setLoading(false);
      },
      (e: unknown) => {
        if (ticket !== latest.current) return;
        setError(readable(e));
        setLoading(false);
      },
    );
  };

  // A pending delivery changes only when it is attempted: read again just after the next attempt
  // is due (soon, for one not attempted yet), rather than polling through hours of backoff.
  useEffect(() => {
    const due = rows.filter((r) => r.status === 'PENDING').map((r) => (r.nextAttemptAt ? Date.parse(r.nextAttemptAt) : 0));
    if (due.length === 0) return;
    const wait = Math.min(Math.max(Math.min(...due) - Date.now() + 1_000, PENDING_POLL_MIN_MS), PENDING_POLL_MAX_MS);
    const timer = setTimeout(refresh, wait);
    return () => clearTimeout(timer);
  }, [rows, refresh]);

  return (
    <section aria-labelledby="deliveries-title">
      <h3 id="deliveries-title">
        Deliveries to <code>{props.endpoint.url}</code>
      </h3>
      <div className="row">
        <span data-testid="deliveries-total">
          {totalCount === null ? 'Loading…' : `${totalCount} ${totalCount === 1 ? 'delivery' : 'deliveries'}`}
        </span>
        <button type="button" disabled={loading} onClick={refresh}>
          Refresh
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {totalCount === 0 ? (
        <p>Nothing delivered yet: “Send test” sends a webhook.test event.</p>
      ) : (
        <table aria-labelledby="deliveries-title">
          <thead>
            <tr>
              <th>Event</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Last attempt</th>
              <th>Response</th>
              <th>Last error</th>
              <th>Next attempt</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id} data-delivery-id={d.id}>
                <td>
                  <code>{d.eventType}</code> <small title="webhook-id">{d.eventId}</small>
                </td>
                <td>
                  <span className={`tag tag-${d.status.toLowerCase()}`}>{d.status}</span>
                </td>
                <td>{d.attempts}</td>
                <td>{when(d.lastAttemptAt)}</td>
                <td>{d.responseStatus ?? '—'}</td>
                <td>{d.lastError ?? '—'}</td>
                <td>{d.status === 'PENDING' ? when(d.nextAttemptAt) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button type="button" disabled={loading} onClick={loadMore}>
          Load more
        </button>
      )}
    </section>
  );
}
