// Transient messages (revocations seen live), announced to screen readers.
export interface Toast {
  id: number;
  text: string;
}

export function Toasts(props: { toasts: Toast[]; dismiss: (id: number) => void }) {
  return (
    <div className="toasts" role="status" aria-live="polite">
      {props.toasts.map((t) => (
        <div className="toast" key={t.id}>
          <span>{t.text}</span>
          <button type="button" onClick={() => props.dismiss(t.id)} aria-label="Dismiss">
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
