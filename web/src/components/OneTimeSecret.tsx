// A secret shown once, with a copy button: the server keeps only its hash.
import { useState } from 'react';

export function OneTimeSecret(props: { label: string; secret: string; note?: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <section className="secret" aria-labelledby="secret-title">
      <h3 id="secret-title">{props.label}</h3>
      <p className="warning">Copy it now: you will not see it again.</p>
      <code data-testid="one-time-secret">{props.secret}</code>
      {props.note && <p data-testid="one-time-secret-note">{props.note}</p>}
      <div className="row">
        <button
          type="button"
          onClick={() =>
            navigator.clipboard?.writeText(props.secret).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" onClick={props.onDone}>
          I have saved it
        </button>
      </div>
    </section>
  );
}
