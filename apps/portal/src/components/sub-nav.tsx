import type { ReactNode } from 'react';
import { NavLink } from './nav-link.tsx';

export function SubNav({
  label,
  links,
}: {
  label: string;
  links: { href: string; text: string }[];
}): ReactNode {
  return (
    <nav className="subnav" aria-label={label}>
      {links.map((l) => (
        <NavLink key={l.href} href={l.href} exact>
          {l.text}
        </NavLink>
      ))}
    </nav>
  );
}
