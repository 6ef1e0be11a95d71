// The dashboard: sign in with a key, then the pages that key may use; revocations arrive live.
import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, realtimeClient, request, subscribe } from './api';
import { type Toast, Toasts } from './components/Toasts';
import { graphql } from './gql';
import type { DashViewerQuery } from './gql/graphql';
import { Audit } from './pages/Audit';
import { Collections, SharedCollection } from './pages/Collections';
import { MyKeys } from './pages/MyKeys';
import { Notifications } from './pages/Notifications';
import { Settings } from './pages/Settings';
import { TeamKeys } from './pages/TeamKeys';
import { Webhooks } from './pages/Webhooks';
import { session } from './session';

const ViewerDoc = graphql(`
  query DashViewer {
    viewer { keyKind user { id name role } team { name plan } apiKey { id name } accessKey { id collection { id name } } }
    usage { limit remaining monthlyLimit monthlyUsed }
  }
`);
const UsageDoc = graphql(`
  query DashUsage { usage { limit remaining monthlyLimit monthlyUsed } }
`);
// Personal keys only: a collection access key may not read notifications.
const UnreadDoc = graphql(`
  query DashUnread { notifications(unreadOnly: true, first: 0) { unreadCount } }
`);
const RevokedDoc = graphql(`
  subscription DashRevoked { apiKeyRevoked { apiKey { id name hint } accessKey { id hint } reason revokedBy { name } } }
`);
const NotificationAddedDoc = graphql(`
  subscription DashNotificationAdded { notificationAdded { id message } }
`);
const ExpiringDoc = graphql(`
  subscription DashExpiring { apiKeyExpiring { apiKey { name hint } daysLeft } }
`);

type Viewer = DashViewerQuery;
type Page = 'keys' | 'collections' | 'team' | 'settings' | 'audit' | 'webhooks' | 'notifications';
const REASON_WORDS: Record<string, string> = {
  REVOKED_BY_ADMIN: 'revoked by an admin',
  REVOKED_BY_OWNER: 'revoked by its owner',
  EXPIRED: 'expired',
  EXPOSED: 'revoked: found exposed',
};

export function App() {
  const [key, setKey] = useState<string | null>(session.get());
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [signedOutReason, setSignedOutReason] = useState<string | null>(null);
  const [page, setPage] = useState<Page>('keys');
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [unread, setUnread] = useState(0);
  const [revision, setRevision] = useState(0);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [liveLost, setLiveLost] = useState(false);
  const toastId = useRef(0);

  const signOut = useCallback((reason: string | null) => {
    session.clear();
    setKey(null);
    setViewer(null);
    setSignedOutReason(reason);
  }, []);
  const toast = useCallback((text: string) => {
    const id = ++toastId.current;
    setToasts((list) => [...list, { id, text }]);
    setTimeout(() => setToasts((list) => list.filter((t) => t.id !== id)), 8_000);
  }, []);

  const refreshViewer = useCallback(
    (apiKey: string) =>
      request(apiKey, ViewerDoc).then(
        (v) => {
          setViewer(v);
          if (v.viewer.keyKind === 'PERSONAL') {
            void request(apiKey, UnreadDoc).then(
              (u) => setUnread(u.notifications.unreadCount),
              () => {},
            );
          }
        },
        (e: unknown) => {
          // Only a key the server refuses is forgotten; a 429 or a network error keeps it.
          if (e instanceof ApiError && e.status === 401) signOut(`That key does not work: ${e.message}`);
          else setLoadError(e instanceof ApiError ? e.readable : 'The server cannot be reached: try again in a moment.');
        },
      ),
    [signOut],
  );
  useEffect(() => {
    if (key) void refreshViewer(key);
  }, [key, refreshViewer]);
  // The usage meters follow the page's own calls: read again on each page change and live event.
  useEffect(() => {
    if (key && viewer)
      void request(key, UsageDoc).then(
        (u) => setViewer((v) => (v ? { ...v, usage: u.usage } : v)),
        () => {},
      );
    // eslint-disable-next-line react-hooks/exhaustive-deps -- on page or revision change only
  }, [page, revision]);

  // Live: revocations and expiry reminders as toasts (and sign-out when it is this page's own key),
  // notifications in the bell.
  useEffect(() => {
    if (!key || !viewer || viewer.viewer.keyKind !== 'PERSONAL') return;
    const ownKeyId = viewer.viewer.apiKey?.id;
    const client = realtimeClient(
      key,
      (reason) => signOut(`You were signed out: this key stopped working (${reason}).`),
      () => setLiveLost(true),
    );
    const stops = [
      subscribe(client, RevokedDoc, ({ apiKeyRevoked: e }) => {
        const what = e.apiKey ? `API key “${e.apiKey.name}” (${e.apiKey.hint})` : `Access key ${e.accessKey?.hint}`;
        toast(`${what} ${REASON_WORDS[e.reason] ?? e.reason}${e.revokedBy ? ` (${e.revokedBy.name})` : ''}.`);
        setRevision((r) => r + 1);
        if (e.apiKey && e.apiKey.id === ownKeyId)
          signOut(`You were signed out: the key this page used was ${REASON_WORDS[e.reason] ?? 'revoked'}.`);
      }),
      subscribe(client, NotificationAddedDoc, () => setUnread((n) => n + 1)),
      subscribe(client, ExpiringDoc, ({ apiKeyExpiring: e }) => {
        toast(`API key “${e.apiKey.name}” (${e.apiKey.hint}) expires in ${e.daysLeft} ${e.daysLeft === 1 ? 'day' : 'days'}.`);
        setRevision((r) => r + 1);
      }),
    ];
    return () => {
      for (const stop of stops) stop();
      void client.dispose();
    };
  }, [key, viewer?.viewer.apiKey?.id, viewer?.viewer.keyKind, signOut, toast]);

  if (key && !viewer && loadError) {
    return (
      <main className="sign-in">
        <p className="error" role="alert">
          {loadError}
        </p>
        <div className="row">
          <button
            type="button"
            onClick={() => {
              setLoadError(null);
              void refreshViewer(key);
            }}
          >
            Retry
          </button>
          <button type="button" onClick={() => signOut(null)}>
            Sign out
          </button>
        </div>
      </main>
    );
  }
  if (!key || !viewer) {
    return (
      <SignIn
        busy={Boolean(key)}
        reason={signedOutReason}
        onKey={(k) => {
          session.set(k);
          setSignedOutReason(null);
          setKey(k);
        }}
      />
    );
  }

  const { viewer: v, usage } = viewer;
  const admin = v.user?.role === 'TEAM_ADMIN' || v.user?.role === 'SUPER_ADMIN';
  const enterprise = v.team.plan === 'ENTERPRISE';
  const pages: [Page, string][] = [
    ['keys', 'My API keys'],
    ['collections', 'Collections'],
    ...(admin && enterprise
      ? ([
          ['team', 'Team keys'],
          ['settings', 'Settings'],
          ['audit', 'Audit'],
          ['webhooks', 'Webhooks'],
        ] as [Page, string][])
      : []),
    ['notifications', `Notifications${unread ? ` (${unread})` : ''}`],
  ];

  return (
    <div className="app">
      <header>
        <h1>Keyplane</h1>
        <span>
          {v.user ? `${v.user.name} · ${v.user.role.replace('_', ' ').toLowerCase()}` : 'Collection access key'} · {v.team.name} (
          {v.team.plan.toLowerCase()})
        </span>
        <div className="meters">
          <label>
            Requests this minute <meter min={0} max={usage.limit} value={usage.limit - usage.remaining} /> {usage.limit - usage.remaining}/
            {usage.limit}
          </label>
          <label>
            This month <meter min={0} max={usage.monthlyLimit} value={usage.monthlyUsed} /> {usage.monthlyUsed}/{usage.monthlyLimit}
          </label>
        </div>
        <button type="button" className="bell" aria-label={`Notifications: ${unread} unread`} onClick={() => setPage('notifications')}>
          Unread <span data-testid="unread-count">{unread}</span>
        </button>
        <button type="button" onClick={() => signOut(null)}>
          Sign out
        </button>
      </header>
      {liveLost && (
        <p className="warning-box" role="alert">
          Live updates stopped (the connection was closed).{' '}
          <button type="button" onClick={() => location.reload()}>
            Reload
          </button>
        </p>
      )}
      {v.keyKind !== 'PERSONAL' ? (
        <main>
          <p>This is a read-only collection access key: it may read its one collection and nothing else.</p>
          {v.accessKey && <SharedCollection apiKey={key} collectionId={v.accessKey.collection.id} />}
        </main>
      ) : (
        <>
          <nav aria-label="Pages">
            {pages.map(([id, label]) => (
              <button type="button" key={id} aria-current={page === id ? 'page' : undefined} onClick={() => setPage(id)}>
                {label}
              </button>
            ))}
          </nav>
          <main>
            {page === 'keys' && <MyKeys apiKey={key} ownKeyId={v.apiKey?.id ?? null} revision={revision} />}
            {page === 'collections' && <Collections apiKey={key} revision={revision} />}
            {page === 'team' && <TeamKeys apiKey={key} revision={revision} />}
            {page === 'settings' && <Settings apiKey={key} revision={revision} />}
            {page === 'audit' && <Audit apiKey={key} revision={revision} />}
            {page === 'webhooks' && <Webhooks apiKey={key} revision={revision} />}
            {page === 'notifications' && <Notifications apiKey={key} revision={revision} onRead={() => setUnread(0)} />}
          </main>
        </>
      )}
      <Toasts toasts={toasts} dismiss={(id) => setToasts((list) => list.filter((t) => t.id !== id))} />
    </div>
  );
}

function SignIn(props: { busy: boolean; reason: string | null; onKey: (key: string) => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = value.trim();
    if (!/^kpc?_[0-9A-Za-z]{36}$/.test(trimmed)) {
      setError('Paste a whole Keyplane key: kp_ or kpc_ followed by 36 letters and digits.');
      return;
    }
    setError(null);
    setValue('');
    props.onKey(trimmed);
  };
  return (
    <main className="sign-in">
      <h1>Keyplane</h1>
      {props.reason && (
        <p className="notice" role="alert">
          {props.reason}
        </p>
      )}
      <form onSubmit={submit} className="card">
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            type="text"
            className="masked"
            autoComplete="off"
            spellCheck={false}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            aria-invalid={Boolean(error)}
            aria-describedby="api-key-error"
          />
          <span id="api-key-error" className="field-error">
            {error}
          </span>
        </div>
        <p className="hint">Kept in this tab only (sessionStorage), never in a URL.</p>
        <button type="submit" disabled={props.busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
