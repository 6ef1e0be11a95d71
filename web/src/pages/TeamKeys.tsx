// Team keys (admins, ENTERPRISE): the key management dashboard of SPEC §1.
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, request } from '../api';
import { StatusTag } from '../components/StatusTag';
import { graphql } from '../gql';
import type { ApiKeyOrder, ApiKeyStatus, TeamKeysQuery } from '../gql/graphql';

const TeamKeysDoc = graphql(`
  query TeamKeys($filter: TeamApiKeyFilter, $orderBy: ApiKeyOrder, $first: Int, $after: String) {
    teamApiKeys(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id name hint status createdAt expiresAt lastUsedAt lastUsedFrom previousSecretExpiresAt revokedAt revocationReason createdBy { id name role } } }
    }
  }
`);
const MembersDoc = graphql(`
  query DashMembers { teamMembers(first: 500) { id name role } }
`);
const LiveCountDoc = graphql(`
  query DashLiveCount { teamApiKeys(filter: { statuses: [ENABLED, DISABLED] }, first: 0) { totalCount } }
`);
const RevokeDoc = graphql(`
  mutation DashRevoke($ids: [ID!]!) { revokeApiKeys(ids: $ids) { revokedCount } }
`);
const RevokeAllDoc = graphql(`
  mutation DashRevokeAll { revokeAllApiKeys { revokedCount } }
`);
const TeamSetEnabledDoc = graphql(`
  mutation DashTeamSetEnabled($id: ID!, $enabled: Boolean!) { setApiKeyEnabled(id: $id, enabled: $enabled) { id } }
`);

const STATUSES: ApiKeyStatus[] = ['ENABLED', 'DISABLED', 'REVOKED'];
const PAGE = 25;
type Row = TeamKeysQuery['teamApiKeys']['edges'][number]['node'];

export function TeamKeys(props: { apiKey: string; revision: number }) {
  const [statuses, setStatuses] = useState<ApiKeyStatus[]>([]);
  const [keyValue, setKeyValue] = useState('');
  const [search, setSearch] = useState('');
  const [createdBy, setCreatedBy] = useState('');
  const [orderBy, setOrderBy] = useState<ApiKeyOrder>('NEWEST');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<TeamKeysQuery['teamApiKeys'] | null>(null);
  const [members, setMembers] = useState<{ id: string; name: string }[]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [error, setError] = useState<{ text: string; field?: string } | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const [loading, setLoading] = useState(false);
  const latest = useRef(0);
  const after = cursors.at(-1) ?? null;
  const load = useCallback(() => {
    const filter = { statuses: statuses.length ? statuses : null, keyValue: search || null, createdBy: createdBy || null };
    const ticket = ++latest.current; // a slower, older response never replaces a newer one
    setLoading(true);
    request(props.apiKey, TeamKeysDoc, { filter, orderBy, first: PAGE, after }).then(
      (d) => {
        if (ticket !== latest.current) return;
        setPage(d.teamApiKeys);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (ticket !== latest.current) return;
        setLoading(false);
        if (!(e instanceof ApiError)) return setError({ text: String(e) });
        setError({ text: e.forField('keyValue') ?? e.readable, field: e.forField('keyValue') ? 'keyValue' : undefined });
      },
    );
  }, [props.apiKey, statuses, search, createdBy, orderBy, after]);
  useEffect(load, [load, props.revision]);
  useEffect(() => {
    request(props.apiKey, MembersDoc).then(
      (d) => setMembers(d.teamMembers),
      () => setMembers([]),
    );
  }, [props.apiKey]);

  const restart = () => {
    setCursors([null]);
    setSelected(new Set());
  };
  const run = async (work: () => Promise<string>) => {
    try {
      setMessage(await work());
      setSelected(new Set());
      load();
    } catch (e) {
      setError({ text: e instanceof ApiError ? e.readable : String(e) });
    }
  };
  const revokeSelected = () =>
    confirm(`Revoke ${selected.size} selected key(s)? They stop working at once.`) &&
    void run(async () => `${(await request(props.apiKey, RevokeDoc, { ids: [...selected] })).revokeApiKeys.revokedCount} key(s) revoked.`);
  const revokeAll = () =>
    run(async () => {
      // The key this page is signed in with is live and is not revoked: it is not in the count.
      const { teamApiKeys } = await request(props.apiKey, LiveCountDoc);
      const count = Math.max(0, teamApiKeys.totalCount - 1);
      if (!confirm(`Revoke all ${count} enabled or disabled keys of the team (all but the one you are signed in with)?`))
        return 'Nothing revoked.';
      return `${(await request(props.apiKey, RevokeAllDoc)).revokeAllApiKeys.revokedCount} key(s) revoked.`;
    });
  const rows: Row[] = page?.edges.map((e) => e.node) ?? [];

  return (
    <section aria-labelledby="team-keys-title">
      <h2 id="team-keys-title">Team API keys</h2>
      <div className="card filters">
        <fieldset>
          <legend>Status</legend>
          {STATUSES.map((s) => (
            <label key={s}>
              <input
                type="checkbox"
                checked={statuses.includes(s)}
                onChange={(e) => {
                  setStatuses(e.target.checked ? [...statuses, s] : statuses.filter((x) => x !== s));
                  restart();
                }}
              />
              {s.toLowerCase()}
            </label>
          ))}
        </fieldset>
        <form
          className="field"
          onSubmit={(e) => {
            e.preventDefault();
            setSearch(keyValue.trim());
            restart();
          }}
        >
          <label htmlFor="key-search">Search by key value</label>
          <input
            id="key-search"
            value={keyValue}
            placeholder="kp_… or its last 4"
            onChange={(e) => setKeyValue(e.target.value)}
            aria-invalid={error?.field === 'keyValue'}
            aria-describedby="key-search-error"
          />
          <span id="key-search-error" className="field-error">
            {error?.field === 'keyValue' ? error.text : ''}
          </span>
        </form>
        <div className="field">
          <label htmlFor="creator">Creator</label>
          <select
            id="creator"
            value={createdBy}
            onChange={(e) => {
              setCreatedBy(e.target.value);
              restart();
            }}
          >
            <option value="">Anyone</option>
            {members.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="order">Sort</label>
          <select
            id="order"
            value={orderBy}
            onChange={(e) => {
              setOrderBy(e.target.value as ApiKeyOrder);
              restart();
            }}
          >
            <option value="NEWEST">Newest</option>
            <option value="OLDEST">Oldest</option>
            <option value="RECENTLY_USED">Recently used</option>
          </select>
        </div>
      </div>
      <div className="row">
        <button type="button" className="danger" disabled={selected.size === 0} onClick={revokeSelected}>
          Revoke selected ({selected.size})
        </button>
        <button type="button" className="danger" onClick={() => void revokeAll()}>
          Revoke all
        </button>
        <span aria-live="polite">{page ? `${page.totalCount} key(s)` : ''}</span>
      </div>
      {message && (
        <p className="notice" role="status">
          {message}
        </p>
      )}
      {error && !error.field && (
        <p className="error" role="alert">
          {error.text}
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th scope="col">
              <span className="sr-only">Select</span>
            </th>
            <th>Name</th>
            <th>Key</th>
            <th>Creator</th>
            <th>Status</th>
            <th>Created</th>
            <th>Expires</th>
            <th>Last used</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((k) => (
            <tr key={k.id} data-key-id={k.id}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Select ${k.name}`}
                  disabled={k.status === 'REVOKED'}
                  checked={selected.has(k.id)}
                  onChange={(e) => {
                    const next = new Set(selected);
                    if (e.target.checked) next.add(k.id);
                    else next.delete(k.id);
                    setSelected(next);
                  }}
                />
              </td>
              <td>{k.name}</td>
              <td>
                <code>{k.hint}</code>
              </td>
              <td>
                {k.createdBy.name} <small>({k.createdBy.role.replace('_', ' ').toLowerCase()})</small>
              </td>
              <td>
                <StatusTag status={k.status} reason={k.revocationReason} revokedAt={k.revokedAt} />
                {k.previousSecretExpiresAt && (
                  <small className="overlap"> previous secret works until {new Date(k.previousSecretExpiresAt).toLocaleString()}</small>
                )}
              </td>
              <td>{new Date(k.createdAt).toLocaleDateString()}</td>
              <td>{k.expiresAt ? new Date(k.expiresAt).toLocaleDateString() : '—'}</td>
              <td>
                {k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never'}
                {k.lastUsedFrom && <small> from {k.lastUsedFrom}</small>}
              </td>
              <td>
                {k.status !== 'REVOKED' && (
                  <button
                    type="button"
                    onClick={() =>
                      void run(async () => {
                        await request(props.apiKey, TeamSetEnabledDoc, { id: k.id, enabled: k.status !== 'ENABLED' });
                        return `“${k.name}” ${k.status === 'ENABLED' ? 'disabled' : 'enabled'}.`;
                      })
                    }
                  >
                    {k.status === 'ENABLED' ? 'Disable' : 'Enable'}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav className="row" aria-label="Pages">
        <button type="button" disabled={loading || cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>
        <span>Page {cursors.length}</span>
        <button
          type="button"
          disabled={loading || !page?.pageInfo.hasNextPage}
          onClick={() => setCursors([...cursors, page!.pageInfo.endCursor ?? null])}
        >
          Next
        </button>
      </nav>
    </section>
  );
}
