import Link from 'next/link';

export default function NotFound() {
  return (
    <section className="card auth-card">
      <h1>Page not found</h1>
      <p className="muted">The page or object you asked for does not exist, or is not yours to see.</p>
      <Link className="btn btn-secondary" href="/">
        Home
      </Link>
    </section>
  );
}
