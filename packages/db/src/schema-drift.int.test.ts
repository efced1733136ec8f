import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  actualSchema,
  assertNoDrift,
  diffSchemas,
  expectedSchema,
  type SchemaShape,
} from './schema-drift.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

const SCHEMA_PATH = join(import.meta.dirname, '..', 'prisma', 'schema.prisma');

function edit(schema: string, from: string, to: string): string {
  expect(schema, `schema.prisma no longer contains ${JSON.stringify(from)}: update this test`).toContain(
    from,
  );
  return schema.replace(from, to);
}

describe('schema drift: schema.prisma versus the migrated database', () => {
  let db: TestDatabase;
  let schema: string;
  let migrated: SchemaShape;

  beforeAll(async () => {
    db = await createTestDatabase();
    schema = await readFile(SCHEMA_PATH, 'utf8');
    migrated = await actualSchema(db.url);
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('the migrations create exactly what schema.prisma describes', async () => {
    const expected = expectedSchema(schema);
    expect(diffSchemas(expected, migrated)).toEqual([]);
    // Sanity: the comparison saw the whole schema, not two empty descriptions.
    expect(expected.tables.size).toBeGreaterThanOrEqual(15);
    expect(expected.enums.size).toBeGreaterThanOrEqual(11);
    expect(expected.foreignKeys.size).toBeGreaterThanOrEqual(10);
    expect(expected.tables.get('api_keys')?.get('scopes')).toEqual({
      type: 'text[]',
      nullable: false,
      default: '{}',
    });
  });

  it('a renamed column in schema.prisma is reported as drift', () => {
    const drifted = edit(
      schema,
      'lastFour   String    @map("last_four")',
      'lastFour   String    @map("last_4")',
    );
    expect(diffSchemas(expectedSchema(drifted), migrated)).toEqual([
      'column "api_keys"."last_4": schema.prisma has text NOT NULL, missing from the database',
      'column "api_keys"."last_four": database has text NOT NULL, not in schema.prisma',
    ]);
  });

  it('a removed column, a changed default, nullability and onDelete are each reported', () => {
    let drifted = edit(schema, '  ip         String?\n', '');
    drifted = edit(drifted, 'cost         Int      @default(1)', 'cost         Int      @default(2)');
    drifted = edit(drifted, 'suspendedReason   String?', 'suspendedReason   String ');
    drifted = edit(
      drifted,
      'plan                       Plan               @relation(fields: [planId], references: [id])',
      'plan                       Plan               @relation(fields: [planId], references: [id], onDelete: Cascade)',
    );
    expect(diffSchemas(expectedSchema(drifted), migrated)).toEqual([
      'column "consumers"."suspended_reason": schema.prisma has text NOT NULL, database has text NULL',
      'column "routes"."cost": schema.prisma has integer NOT NULL DEFAULT 2, database has integer NOT NULL DEFAULT 1',
      'column "audit_log"."ip": database has text NULL, not in schema.prisma',
      'foreign key: schema.prisma has foreign key "subscriptions_plan_id_fkey" on subscriptions (plan_id) references plans (id) on delete cascade on update cascade, missing from the database',
      'foreign key: database has foreign key "subscriptions_plan_id_fkey" on subscriptions (plan_id) references plans (id) on delete restrict on update cascade, not in schema.prisma',
    ]);
  });

  it('a new enum value and a new index in schema.prisma are reported', () => {
    let drifted = edit(
      schema,
      'enum CapMode {\n  hard\n  soft\n}',
      'enum CapMode {\n  hard\n  soft\n  none\n}',
    );
    drifted = edit(drifted, '  @@index([at])\n', '  @@index([at])\n  @@index([action])\n');
    expect(diffSchemas(expectedSchema(drifted), migrated)).toEqual([
      'enum "CapMode": schema.prisma has (hard, soft, none), database has (hard, soft)',
      'index: schema.prisma has index "audit_log_action_idx" on audit_log (action), missing from the database',
    ]);
  });

  it('drift made in the database (a dropped unique index) fails the check with a readable message', async () => {
    await db.prisma.$executeRawUnsafe('DROP INDEX "apis_slug_key"');
    await db.prisma.$executeRawUnsafe('ALTER TABLE "plans" ADD COLUMN "legacy" INTEGER');
    const failure = await assertNoDrift(db.url, schema).then(
      () => null,
      (err: Error) => err.message,
    );
    expect(failure).toBe(
      [
        'the database does not match schema.prisma (2 differences):',
        '  - column "plans"."legacy": database has integer NULL, not in schema.prisma',
        '  - index: schema.prisma has unique index "apis_slug_key" on apis (slug), missing from the database',
      ].join('\n'),
    );
  });
});
