import type { ReactNode } from 'react';
import { SubNav } from '../../components/sub-nav.tsx';

export default function AdminLayout({ children }: { children: ReactNode }) {
  return (
    <>
      <SubNav
        label="Admin"
        links={[
          { href: '/admin', text: 'Overview' },
          { href: '/admin/apis', text: 'APIs & routes' },
          { href: '/admin/plans', text: 'Plans' },
          { href: '/admin/config', text: 'Configuration' },
          { href: '/admin/consumers', text: 'Consumers' },
          { href: '/admin/audit', text: 'Audit log' },
          { href: '/admin/tokens', text: 'API tokens' },
        ]}
      />
      {children}
    </>
  );
}
