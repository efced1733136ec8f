import './globals.css';
import type { Metadata } from 'next';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { ActionForm } from '../components/action-form.tsx';
import { NavLink } from '../components/nav-link.tsx';
import { sessionUser } from '../server/auth/session.ts';
import { signOutAction } from './actions/auth.ts';

export const metadata: Metadata = {
  title: { default: 'Tollgate', template: '%s · Tollgate' },
  description: 'API keys, plans, usage and billing for the APIs behind Tollgate.',
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await sessionUser();
  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="topbar">
          <div className="topbar-inner">
            <Link href="/" className="brand">
              <span className="brand-mark" aria-hidden="true" /> Tollgate
            </Link>
            <nav className="nav" aria-label="Main">
              <NavLink href="/apis">APIs</NavLink>
              <NavLink href="/pricing">Pricing</NavLink>
              {user?.role === 'developer' && (
                <>
                  <NavLink href="/dashboard">Dashboard</NavLink>
                  <NavLink href="/keys">API keys</NavLink>
                  <NavLink href="/usage">Usage</NavLink>
                  <NavLink href="/billing">Billing</NavLink>
                </>
              )}
              {user?.role === 'admin' && <NavLink href="/admin">Admin</NavLink>}
              {(user?.role === 'finance' || user?.role === 'admin') && (
                <NavLink href="/finance">Finance</NavLink>
              )}
            </nav>
            <div className="userbox">
              {user ? (
                <>
                  <span>
                    {user.email} <span className="sr-only">signed in as</span>
                    <span className="badge badge-accent">{user.role}</span>
                  </span>
                  <ActionForm action={signOutAction} submitLabel="Sign out" variant="ghost" inline />
                </>
              ) : (
                <>
                  <Link href="/signin" style={{ color: '#fff' }}>
                    Sign in
                  </Link>
                  <Link href="/signup" className="btn btn-primary btn-small">
                    Sign up
                  </Link>
                </>
              )}
            </div>
          </div>
        </header>
        <main id="main">{children}</main>
      </body>
    </html>
  );
}
