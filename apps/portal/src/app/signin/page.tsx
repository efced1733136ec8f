import type { Metadata } from 'next';
import Link from 'next/link';
import { ActionForm } from '../../components/action-form.tsx';
import { signInAction } from '../actions/auth.ts';

export const metadata: Metadata = { title: 'Sign in' };

export default function SignInPage() {
  return (
    <section className="card auth-card">
      <h1>Sign in</h1>
      <p className="muted">Welcome back.</p>
      <ActionForm
        action={signInAction}
        submitLabel="Sign in"
        pendingLabel="Signing in…"
        className="form"
        testId="signin-form"
      >
        <div className="field">
          <label htmlFor="email">Email</label>
          <input id="email" name="email" type="email" autoComplete="username" required />
        </div>
        <div className="field">
          <label htmlFor="password">Password</label>
          <input id="password" name="password" type="password" autoComplete="current-password" required />
        </div>
      </ActionForm>
      <p className="muted">
        New here? <Link href="/signup">Create an account</Link>
      </p>
    </section>
  );
}
