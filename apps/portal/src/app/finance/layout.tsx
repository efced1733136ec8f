import type { ReactNode } from 'react';
import { SubNav } from '../../components/sub-nav.tsx';

export default function FinanceLayout({ children }: { children: ReactNode }) {
  return (
    <>
      <SubNav
        label="Finance"
        links={[
          { href: '/finance', text: 'Usage & revenue' },
          { href: '/finance/reconciliation', text: 'Reconciliation' },
        ]}
      />
      {children}
    </>
  );
}
