'use client';

export default function ErrorPage({ reset }: { error: Error; reset: () => void }) {
  return (
    <section className="card auth-card" role="alert">
      <h1>Something went wrong</h1>
      <p className="muted">The page could not be loaded. Please try again.</p>
      <button type="button" className="btn btn-primary" onClick={reset}>
        Try again
      </button>
    </section>
  );
}
