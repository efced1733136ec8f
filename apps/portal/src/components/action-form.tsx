'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, type ReactNode, useState } from 'react';
import { CopyButton } from './copy-button.tsx';

export type ActionOutcome =
  | { ok: true; message?: string; redirect?: string; reveal?: string }
  | { ok: false; error: string; fieldErrors?: Record<string, string> };

/** Turns form fields into a plain object: repeated names (checkbox groups) become arrays. */
function formToObject(form: HTMLFormElement): Record<string, unknown> {
  const fd = new FormData(form);
  const out: Record<string, unknown> = {};
  for (const key of new Set(fd.keys())) {
    const values = fd.getAll(key).map((v) => (typeof v === 'string' ? v : ''));
    const multi = values.length > 1 || form.querySelector(`[name="${CSS.escape(key)}"][data-list]`) !== null;
    out[key] = multi ? values : values[0];
  }
  return out;
}

/**
 * A form whose submit calls a server action with a plain object and shows the outcome:
 * pending state, error (role=alert), success (role=status), and a one-time secret to copy.
 */
export function ActionForm({
  action,
  children,
  submitLabel,
  pendingLabel,
  variant = 'primary',
  className,
  confirmText,
  resetOnSuccess = false,
  inline = false,
  testId,
}: {
  action: (input: unknown) => Promise<ActionOutcome>;
  children?: ReactNode;
  submitLabel: string;
  pendingLabel?: string;
  variant?: 'primary' | 'secondary' | 'danger' | 'ghost';
  className?: string;
  confirmText?: string;
  resetOnSuccess?: boolean;
  inline?: boolean;
  testId?: string;
}) {
  const router = useRouter();
  const [pending, setPending] = useState(false);
  const [outcome, setOutcome] = useState<ActionOutcome | null>(null);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (confirmText && !window.confirm(confirmText)) return;
    const form = event.currentTarget;
    setPending(true);
    setOutcome(null);
    try {
      const result = await action(formToObject(form));
      setOutcome(result);
      if (result.ok) {
        if (resetOnSuccess) form.reset();
        if (result.redirect) {
          window.location.assign(result.redirect);
          return;
        }
        router.refresh();
      }
    } catch {
      setOutcome({
        ok: false,
        error: 'The portal could not be reached. Check your connection and try again.',
      });
    } finally {
      setPending(false);
    }
  }

  return (
    <div className={inline ? 'action inline' : 'action'}>
      <form onSubmit={onSubmit} className={className} data-testid={testId} noValidate={false}>
        {children}
        <button type="submit" className={`btn btn-${variant}`} disabled={pending} aria-busy={pending}>
          {pending ? (pendingLabel ?? 'Working…') : submitLabel}
        </button>
      </form>
      {outcome && !outcome.ok && (
        <div className="notice notice-error" role="alert">
          <strong>{outcome.error}</strong>
          {outcome.fieldErrors && Object.keys(outcome.fieldErrors).length > 1 && (
            <ul>
              {Object.entries(outcome.fieldErrors).map(([field, message]) => (
                <li key={field}>
                  {field}: {message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {outcome?.ok && outcome.message && !outcome.redirect && (
        <div className="notice notice-success" role="status">
          {outcome.message}
        </div>
      )}
      {outcome?.ok && outcome.reveal && (
        <div className="secret" data-testid="secret-reveal">
          <p className="secret-warning">Copy this secret now. It will not be shown again.</p>
          <div className="secret-row">
            <code data-testid="secret-value">{outcome.reveal}</code>
            <CopyButton value={outcome.reveal} />
          </div>
        </div>
      )}
    </div>
  );
}
