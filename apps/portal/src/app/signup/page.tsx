import type { Metadata } from 'next';
import Link from 'next/link';
import { ActionForm } from '../../components/action-form.tsx';
import { signUpAction } from '../actions/auth.ts';

export const metadata: Metadata = { title: 'Create an account' };

export default function SignUpPage() {
  return (
    <section className="card auth-card">
      <h1>Create your account</h1>
      <p className="muted">A developer workspace is created for you. You can pick a plan next.</p>
      <ActionForm
        action={signUpAction}
        submitLabel="Create account"
        pendingLabel="Creating…"
        className="form"
        testId="signup-form"
      >
        <div className="field">
          <label htmlFor="name">Your name</label>
          <input id="name" name="name" type="text" autoComplete="name" required maxLength={100} />
        </div>
        <div className="field">
          <label htmlFor="company">Company or project (optional)</label>
          <input id="company" name="company" type="text" autoComplete="organization" maxLength={100} />
        </div>
        <div className="field">
          <label htmlFor="email">Email</label>
          <input id="email" name="email" type="email" autoComplete="username" required />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="new-password"
            required
            minLength={10}
            aria-describedby="password-hint"
          />
          <p className="hint" id="password-hint">
            At least 10 characters.
          </p>
        </div>
      </ActionForm>
      <p className="muted">
        Already have an account? <Link href="/signin">Sign in</Link>
      </p>
    </section>
  );
}
