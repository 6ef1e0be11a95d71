// The viewer's notifications (kept while offline), newest first, tagged by kind (revocations,
// expiry reminders); mark them read.
import { request } from '../api';
import { graphql } from '../gql';
import { useApiData } from '../useApi';

const NotificationsDoc = graphql(`
  query DashNotifications { notifications(first: 50) { unreadCount edges { node { id kind message createdAt readAt } } } }
`);
const MarkAllDoc = graphql(`
  mutation DashMarkAll { markNotificationsRead(ids: null) }
`);

const KIND_TAGS: Record<string, { label: string; className: string }> = {
  API_KEY_REVOKED: { label: 'Revoked', className: 'tag tag-revoked' },
  API_KEY_EXPIRING: { label: 'Expiring', className: 'tag tag-expiring' },
};

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
        {data?.edges.map(({ node: n }) => {
          const tag = KIND_TAGS[n.kind];
          return (
            <li key={n.id} className={n.readAt ? 'read' : 'unread'}>
              <time dateTime={n.createdAt}>{new Date(n.createdAt).toLocaleString()}</time>{' '}
              {tag && <span className={tag.className}>{tag.label}</span>} {n.message}
            </li>
          );
        })}
      </ul>
      {data && data.edges.length === 0 && <p>Nothing yet.</p>}
    </section>
  );
}
