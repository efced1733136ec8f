import Link from 'next/link';
import { redirect } from 'next/navigation';
import { sessionUser } from '../server/auth/session.ts';

export default async function Home() {
  const user = await sessionUser();
  if (user) redirect(user.role === 'admin' ? '/admin' : user.role === 'finance' ? '/finance' : '/dashboard');
  return (
    <div className="stack">
      <section className="hero">
        <h1>Ship your API. Tollgate handles keys, quotas and billing.</h1>
        <p>
          Browse the catalog, pick a plan, create a key and make your first call in minutes. Usage and charges
          update as you go.
        </p>
        <div style={{ display: 'flex', gap: 10 }}>
          <Link className="btn btn-primary" href="/signup">
            Create an account
          </Link>
          <Link className="btn btn-secondary" href="/apis">
            Explore the APIs
          </Link>
          <Link className="btn btn-ghost" href="/pricing">
            See pricing →
          </Link>
        </div>
      </section>
      <div className="grid grid-3">
        <section className="card">
          <h2 className="card-title">Keys you control</h2>
          <p className="muted">
            Scoped keys with expiry, rotation with an overlap window, and instant revocation.
          </p>
        </section>
        <section className="card">
          <h2 className="card-title">Usage you can see</h2>
          <p className="muted">
            Requests per day, by route and by status, with your quota and the period's charges.
          </p>
        </section>
        <section className="card">
          <h2 className="card-title">Plans that fit</h2>
          <p className="muted">
            Start free, upgrade when you grow, with a preview of the prorated charge first.
          </p>
        </section>
      </div>
    </div>
  );
}
