// A key's status as a tag; a revoked key tells why and when on hover and on keyboard focus.
const REASONS: Record<string, string> = {
  REVOKED_BY_ADMIN: 'revoked by a team admin',
  REVOKED_BY_OWNER: 'revoked by its owner',
  EXPIRED: 'expired',
  EXPOSED: 'automatically revoked (exposed)',
};

export function StatusTag(props: { status: string; reason?: string | null; revokedAt?: string | null }) {
  const detail =
    props.status === 'REVOKED' && props.reason
      ? `${REASONS[props.reason] ?? props.reason}${props.revokedAt ? ` on ${new Date(props.revokedAt).toLocaleString()}` : ''}`
      : undefined;
  return (
    <span
      className={`tag tag-${props.status.toLowerCase()}`}
      title={detail}
      tabIndex={detail ? 0 : undefined}
      aria-label={detail ? `${props.status}: ${detail}` : props.status}
    >
      {props.status}
      {detail && (
        <span className="tag-detail" role="tooltip">
          {detail}
        </span>
      )}
    </span>
  );
}
