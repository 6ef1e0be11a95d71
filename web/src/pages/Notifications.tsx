// The viewer's notifications (kept while offline), newest first; mark them read.
import { request } from '../api';
import { graphql } from '../gql';
import { useApiData } from '../useApi';

const NotificationsDoc = graphql(`
  query DashNotifications { notifications(first: 50) { unreadCount edges { node { id message createdAt readAt } } } }
`);
const MarkAllDoc = graphql(`
  mutation DashMarkAll { markNotificationsRead(ids: null) }
`);

export function Notifications(props: { apiKey: string; revision: number; onRead: () => void }) {
  const { data: loaded, error, act } = useApiData(props.apiKey, NotificationsDoc, props.revision);
  const data = loaded?.notifications ?? null;
  return (
    <section aria-labelledby="notifications-title">
      <h2 id="notifications-title">Notifications</h2>
      <button
        type="button"
        disabled={!data?.unreadCount}
        onClick={() =>
          void act(async () => {
            await request(props.apiKey, MarkAllDoc);
            props.onRead();
          })
        }
      >
        Mark all read
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
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
