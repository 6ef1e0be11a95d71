// The viewer's notifications (kept while offline), newest first; mark them read.
import { useCallback, useEffect, useState } from 'react';
import { ApiError, request } from '../api';
import { graphql } from '../gql';
import type { DashNotificationsQuery } from '../gql/graphql';

const NotificationsDoc = graphql(`
  query DashNotifications { notifications(first: 50) { unreadCount edges { node { id message createdAt readAt } } } }
`);
const MarkAllDoc = graphql(`
  mutation DashMarkAll { markNotificationsRead(ids: null) }
`);

export function Notifications(props: { apiKey: string; revision: number; onRead: () => void }) {
  const [data, setData] = useState<DashNotificationsQuery['notifications'] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    request(props.apiKey, NotificationsDoc).then(
      (d) => {
        setData(d.notifications);
        setError(null);
      },
      (e: ApiError) => setError(e.readable),
    );
  }, [props.apiKey]);
  useEffect(load, [load, props.revision]);
  return (
    <section aria-labelledby="notifications-title">
      <h2 id="notifications-title">Notifications</h2>
      <button type="button" disabled={!data?.unreadCount} onClick={() => void request(props.apiKey, MarkAllDoc).then(() => { props.onRead(); load(); })}>
        Mark all read
      </button>
      {error && <p className="error" role="alert">{error}</p>}
      <ul className="notifications">
        {data?.edges.map(({ node: n }) => (
          <li key={n.id} className={n.readAt ? 'read' : 'unread'}>
            <time dateTime={n.createdAt}>{new Date(n.createdAt).toLocaleString()}</time> {n.message}
          </li>
        ))}
      </ul>
      {data && data.edges.length === 0 && <p>Nothing yet.</p>}
    </section>
  );
}
