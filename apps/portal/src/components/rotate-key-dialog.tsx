'use client';

import { useRef } from 'react';
import { ActionForm, type ActionOutcome } from './action-form.tsx';

/** "Rotate" opens a modal dialog: choose the overlap, rotate, copy the new secret (shown once). */
export function RotateKeyDialog({
  keyId,
  keyName,
  action,
}: {
  keyId: string;
  keyName: string;
  action: (input: unknown) => Promise<ActionOutcome>;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = `rotate-title-${keyId}`;
  return (
    <>
      <button
        type="button"
        className="btn btn-secondary btn-small"
        onClick={() => dialog.current?.showModal()}
      >
        Rotate
      </button>
      <dialog ref={dialog} className="dialog" aria-labelledby={titleId}>
        <h2 id={titleId}>Rotate “{keyName}”</h2>
        <p className="muted">
          A new key with the same name, scopes and expiry is created. The old key keeps working during the
          overlap, so you can switch your clients without downtime.
        </p>
        <ActionForm action={action} submitLabel="Rotate now" className="form">
          <input type="hidden" name="keyId" value={keyId} />
          <div className="field">
            <label htmlFor={`overlap-${keyId}`}>Old key keeps working for (hours)</label>
            <input
              id={`overlap-${keyId}`}
              name="overlapHours"
              type="number"
              min={0}
              max={720}
              defaultValue={24}
            />
          </div>
        </ActionForm>
        <div className="dialog-actions">
          <button type="button" className="btn btn-secondary" onClick={() => dialog.current?.close()}>
            Close
          </button>
        </div>
      </dialog>
    </>
  );
}
