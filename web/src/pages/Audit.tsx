// Audit (admins, ENTERPRISE): the team's audit trail, newest first, filtered by action, member and
// time range, page by page; and the export of a time range as CSV or NDJSON (GET /audit/export).
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, request } from '../api';
import { graphql } from '../gql';
import type { AuditEventsQuery } from '../gql/graphql';

const AuditEventsDoc = graphql(`
  query AuditEvents($filter: AuditEventFilter, $first: Int, $after: String) {
    auditEvents(filter: $filter, first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { id at action actorType actor { id name } actorKeyHint targetType targetId summary address userAgent } }
    }
  }
`);
const AuditMembersDoc = graphql(`
  query AuditMembers { teamMembers(first: 500) { id name } }
`);

// The actions that exist today (SPEC §5); the API refuses names it does not know.
const ACTIONS = [
  'api_key.created',
  'api_key.rotated',
  'api_key.renamed',
  'api_key.enabled',
  'api_key.disabled',
  'api_key.expiry_changed',
  'api_key.revoked',
  'collection.created',
  'collection.updated',
  'collection.deleted',
  'collection.shared',
  'access_key.revoked',
  'member.invited',
  'member.joined',
  'settings.updated',
  'exposure.reported',
  'audit.exported',
];
const PAGE = 50;
type Row = AuditEventsQuery['auditEvents']['edges'][number]['node'];

/** A datetime-local value (the browser's local time) as ISO, or null when empty. */
const isoOf = (local: string) => (local ? new Date(local).toISOString() : null);

export function Audit(props: { apiKey: string; revision: number }) {
  const [action, setAction] = useState('');
  const [actorId, setActorId] = useState('');
  const [targetId, setTargetId] = useState('');
  const [target, setTarget] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<AuditEventsQuery['auditEvents'] | null>(null);
  const [members, setMembers] = useState<{ id: string; name: string }[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [exportFormat, setExportFormat] = useState<'csv' | 'ndjson'>('csv');
  const [exporting, setExporting] = useState(false);
  const latest = useRef(0);
  const after = cursors.at(-1) ?? null;

  const load = useCallback(() => {
    const filter = {
      actions: action ? [action] : null,
      actorId: actorId || null,
      targetId: target || null,
      from: isoOf(from),
      to: isoOf(to),
    };
    const ticket = ++latest.current; // a slower, older response never replaces a newer one
    setLoading(true);
    request(props.apiKey, AuditEventsDoc, { filter, first: PAGE, after }).then(
      (d) => {
        if (ticket !== latest.current) return;
        setPage(d.auditEvents);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (ticket !== latest.current) return;
        setLoading(false);
        setError(e instanceof ApiError ? e.readable : String(e));
      },
    );
  }, [props.apiKey, action, actorId, target, from, to, after]);
  useEffect(load, [load, props.revision]);
  useEffect(() => {
    request(props.apiKey, AuditMembersDoc).then(
      (d) => setMembers(d.teamMembers),
      () => setMembers([]),
    );
  }, [props.apiKey]);

  const restart = () => setCursors([null]);

  /** The export needs the key in a header, so it is fetched and handed to the browser as a file. */
  const download = async () => {
    const start = isoOf(from);
    const end = isoOf(to);
    if (!start || !end) return setError('Choose a time range (from and to) to export.');
    setExporting(true);
    try {
      const res = await fetch(`/audit/export?${new URLSearchParams({ from: start, to: end, format: exportFormat })}`, {
        headers: { 'x-api-key': props.apiKey },
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { message?: string };
        return setError(body.message ?? `Export failed (HTTP ${res.status})`);
      }
      const url = URL.createObjectURL(await res.blob());
      const link = document.createElement('a');
      link.href = url;
      link.download = `audit-${start.slice(0, 10)}-${end.slice(0, 10)}.${exportFormat}`;
      link.click();
      URL.revokeObjectURL(url);
      setError(null);
    } finally {
      setExporting(false);
    }
  };

  const rows: Row[] = page?.edges.map((e) => e.node) ?? [];
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit trail</h2>
      <div className="card filters">
        <div className="field">
          <label htmlFor="audit-action">Action</label>
          <select
            id="audit-action"
            value={action}
            onChange={(e) => {
              setAction(e.target.value);
              restart();
            }}
          >
            <option value="">Any</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-actor">Member</label>
          <select
            id="audit-actor"
            value={actorId}
            onChange={(e) => {
              setActorId(e.target.value);
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
        <form
          className="field"
          onSubmit={(e) => {
            e.preventDefault();
            setTarget(targetId.trim());
            restart();
          }}
        >
          <label htmlFor="audit-target">Target id</label>
          <input
            id="audit-target"
            value={targetId}
            placeholder="a key, collection or user id"
            onChange={(e) => setTargetId(e.target.value)}
          />
        </form>
        <div className="field">
          <label htmlFor="audit-from">From</label>
          <input
            id="audit-from"
            type="datetime-local"
            value={from}
            onChange={(e) => {
              setFrom(e.target.value);
              restart();
            }}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-to">To</label>
          <input
            id="audit-to"
            type="datetime-local"
            value={to}
            onChange={(e) => {
              setTo(e.target.value);
              restart();
            }}
          />
        </div>
      </div>
      <div className="row">
        <label htmlFor="audit-format">Export</label>
        <select id="audit-format" value={exportFormat} onChange={(e) => setExportFormat(e.target.value as 'csv' | 'ndjson')}>
          <option value="csv">CSV</option>
          <option value="ndjson">NDJSON</option>
        </select>
        <button type="button" disabled={exporting} onClick={() => void download()}>
          {exporting ? 'Exporting…' : 'Export the time range'}
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th>When</th>
            <th>Action</th>
            <th>Actor</th>
            <th>Target</th>
            <th>Summary</th>
            <th>From</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((e) => (
            <tr key={e.id} data-event-id={e.id}>
              <td>{new Date(e.at).toLocaleString()}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>
                {e.actor ? e.actor.name : e.actorType.toLowerCase()}
                {e.actorKeyHint && (
                  <>
                    {' '}
                    <code>{e.actorKeyHint}</code>
                  </>
                )}
              </td>
              <td>
                {e.targetType}
                {e.targetId && (
                  <>
                    {' '}
                    <small>{e.targetId}</small>
                  </>
                )}
              </td>
              <td>{e.summary}</td>
              <td title={e.userAgent ?? undefined}>{e.address ?? '—'}</td>
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
          onClick={() => setCursors([...cursors, page?.pageInfo.endCursor ?? null])}
        >
          Next
        </button>
      </nav>
    </section>
  );
}
