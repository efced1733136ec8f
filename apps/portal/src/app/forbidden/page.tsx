import Link from 'next/link';

export default function Forbidden() {
  return (
    <section className="card auth-card">
      <h1>Not available to your account</h1>
      <p className="muted">
        This page belongs to another role. If you think you should have access, ask an administrator.
      </p>
      <Link className="btn btn-secondary" href="/">
        Go to your home page
      </Link>
    </section>
  );
}
