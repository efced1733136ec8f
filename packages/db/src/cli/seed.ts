import { requireStackEnv } from '../env.ts';
import { redact } from '../migrate.ts';
import { createPrisma } from '../prisma.ts';
import { DEMO, seedDemoData } from '../seed.ts';

// `npm run seed`: demo data into DATABASE_URL (or the one in .tollgate/stack.env). Idempotent.
const databaseUrl = requireStackEnv('DATABASE_URL');
const prisma = createPrisma(databaseUrl);
try {
  const result = await seedDemoData(prisma);
  const lines = [
    `seeded demo data into ${redact(databaseUrl)}`,
    result.created.length === 0
      ? '  everything already existed: nothing created'
      : `  created: ${result.created.join(', ')}`,
    `  portal users (password ${DEMO.password}): ${DEMO.users.map((u) => `${u.email} (${u.role})`).join(', ')}`,
    `  Echo API at /${DEMO.apiSlug}, upstream ${DEMO.upstreamUrl}; plans free, starter, pro`,
    `  API key of ${DEMO.consumerName} (Free plan; the same on every run): ${result.apiKey}`,
    // Machine-readable, for infra/run.sh's copy-paste curl.
    `DEMO_API_KEY=${result.apiKey}`,
  ];
  console.log(lines.join('\n'));
} finally {
  await prisma.$disconnect();
}
