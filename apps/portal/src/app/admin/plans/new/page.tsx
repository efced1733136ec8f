import type { Metadata } from 'next';
import { PlanForm } from '../../../../components/plan-form.tsx';
import { Card, PageHeader } from '../../../../components/ui.tsx';
import { requirePageUser } from '../../../../server/auth/require-user.ts';
import { deps } from '../../../../server/deps.ts';

export const metadata: Metadata = { title: 'New plan' };

export default async function NewPlan() {
  await requirePageUser(['admin']);
  const apis = await deps().prisma.api.findMany({
    select: { id: true, name: true },
    orderBy: { name: 'asc' },
  });
  return (
    <>
      <PageHeader title="New plan" />
      <Card>
        <PlanForm apis={apis} entitledApiIds={apis.map((a) => a.id)} />
      </Card>
    </>
  );
}
