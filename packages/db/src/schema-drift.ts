import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import pg from 'pg';

/**
 * Compares schema.prisma with a migrated Postgres database, without Prisma's native schema
 * engine (which cannot be downloaded here; `prisma migrate diff` needs it). Both sides are
 * reduced to the same plain description — tables and their columns (type, nullability,
 * default), enums with their values in order, primary keys, unique and plain indexes, and
 * foreign keys with their referential actions, every object under the name Prisma would give
 * it — and the differences are listed one per line.
 *
 * The expected side comes from Prisma's DMMF, computed by the prisma-schema WebAssembly module
 * (offline, no engine). Conventions the migrations follow and this comparison expects:
 * - scalar lists (`String[]`) are NOT NULL: Prisma cannot represent a null list;
 * - a relation without `onDelete` is ON DELETE RESTRICT when required and SET NULL when
 *   optional, ON UPDATE CASCADE (Prisma's defaults);
 * - `@default(now())` is `DEFAULT CURRENT_TIMESTAMP`, `@default(autoincrement())` a sequence.
 */

export interface ColumnShape {
  type: string;
  nullable: boolean;
  /** Normalized default expression, or null for none. */
  default: string | null;
}

export interface SchemaShape {
  tables: Map<string, Map<string, ColumnShape>>;
  enums: Map<string, string[]>;
  /** Descriptions of primary keys, unique and plain indexes, e.g. `unique index "users_email_key" on users (email)`. */
  indexes: Set<string>;
  /** e.g. `foreign key "api_keys_consumer_id_fkey" on api_keys (consumer_id) references consumers (id) on delete cascade on update cascade`. */
  foreignKeys: Set<string>;
}

/** Tables the migration tool owns, not schema.prisma. */
const IGNORED_TABLES = new Set(['schema_migrations']);

// ---- the expected side: schema.prisma through the DMMF -------------------------------------

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  isList: boolean;
  isRequired: boolean;
  type: string;
  nativeType?: [string, string[]] | null;
  hasDefaultValue: boolean;
  default?: unknown;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}

interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}

interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  dbName?: string | null;
  fields: { name: string }[];
}

interface DmmfDatamodel {
  enums: { name: string; dbName: string | null; values: { name: string; dbName: string | null }[] }[];
  models: DmmfModel[];
  indexes: DmmfIndex[];
}

export function prismaDatamodel(schemaText: string): DmmfDatamodel {
  let raw: string;
  try {
    raw = get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schemaText]] }));
  } catch (err) {
    // The engine reports validation errors as a JSON string with ANSI colors.
    const text = String(err).replace(/^Error: /, '');
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {}
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escape codes
    throw new Error(`schema.prisma does not validate:\n${message.replace(/\u001b\[[0-9;]*m/g, '')}`);
  }
  return (JSON.parse(raw) as { datamodel: DmmfDatamodel }).datamodel;
}

function scalarType(field: DmmfField): string {
  const [native, args = []] = field.nativeType ?? [undefined, []];
  const arg = (fallback: string) => args[0] ?? fallback;
  switch (field.type) {
    case 'String':
      if (native === undefined || native === 'Text') return 'text';
      if (native === 'Uuid') return 'uuid';
      if (native === 'VarChar')
        return args.length > 0 ? `character varying(${arg('')})` : 'character varying';
      if (native === 'Char') return `character(${arg('1')})`;
      break;
    case 'Int':
      if (native === undefined || native === 'Integer') return 'integer';
      if (native === 'SmallInt') return 'smallint';
      break;
    case 'BigInt':
      return 'bigint';
    case 'Float':
      if (native === undefined || native === 'DoublePrecision') return 'double precision';
      if (native === 'Real') return 'real';
      break;
    case 'Decimal':
      return native === 'Decimal' && args.length === 2 ? `numeric(${args[0]},${args[1]})` : 'numeric(65,30)';
    case 'Boolean':
      return 'boolean';
    case 'Json':
      return native === 'Json' ? 'json' : 'jsonb';
    case 'Bytes':
      return 'bytea';
    case 'DateTime':
      if (native === undefined) return 'timestamp(3) without time zone';
      if (native === 'Timestamptz') return `timestamp(${arg('6')}) with time zone`;
      if (native === 'Timestamp') return `timestamp(${arg('6')}) without time zone`;
      if (native === 'Date') return 'date';
      break;
  }
  throw new Error(
    `schema-drift: no Postgres type known for ${field.type} @db.${native}; extend scalarType()`,
  );
}

function sqlLiteral(value: unknown): string {
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`schema-drift: unsupported default literal ${JSON.stringify(value)}`);
}

function expectedDefault(field: DmmfField): string | null {
  if (!field.hasDefaultValue) return null;
  const d = field.default;
  if (Array.isArray(d)) return `{${d.map(sqlLiteral).join(',')}}`;
  if (typeof d === 'object' && d !== null && 'name' in d) {
    const fn = d as { name: string; args: unknown[] };
    if (fn.name === 'dbgenerated') return normalizeDefault(String(fn.args[0] ?? ''));
    if (fn.name === 'now') return 'now()';
    if (fn.name === 'autoincrement') return 'autoincrement()';
    // uuid(), cuid(), nanoid(), ulid() are filled in by the client, not the database.
    return null;
  }
  return sqlLiteral(d);
}

const DEFAULT_INDEX_SUFFIX = { id: 'pkey', unique: 'key', normal: 'idx', fulltext: 'idx' } as const;
const INDEX_KIND = {
  id: 'primary key',
  unique: 'unique index',
  normal: 'index',
  fulltext: 'fulltext index',
} as const;

function referentialAction(action: string | undefined, fallback: string): string {
  const a = action ?? fallback;
  return {
    Cascade: 'cascade',
    Restrict: 'restrict',
    NoAction: 'no action',
    SetNull: 'set null',
    SetDefault: 'set default',
  }[a]!;
}

export function expectedSchema(schemaText: string): SchemaShape {
  const dm = prismaDatamodel(schemaText);
  const enumDbName = new Map(dm.enums.map((e) => [e.name, e.dbName ?? e.name]));
  const models = new Map(dm.models.map((m) => [m.name, m]));
  const tableOf = (model: DmmfModel) => model.dbName ?? model.name;
  const columnOf = (model: DmmfModel, fieldName: string) => {
    const field = model.fields.find((f) => f.name === fieldName);
    return field?.dbName ?? fieldName;
  };

  const shape: SchemaShape = {
    tables: new Map(),
    enums: new Map(),
    indexes: new Set(),
    foreignKeys: new Set(),
  };
  for (const e of dm.enums)
    shape.enums.set(
      e.dbName ?? e.name,
      e.values.map((v) => v.dbName ?? v.name),
    );

  for (const model of dm.models) {
    const table = tableOf(model);
    const columns = new Map<string, ColumnShape>();
    for (const field of model.fields) {
      if (field.kind === 'object') {
        const from = field.relationFromFields ?? [];
        if (from.length === 0) continue;
        const target = models.get(field.type)!;
        const cols = from.map((f) => columnOf(model, f));
        const refCols = (field.relationToFields ?? []).map((f) => columnOf(target, f));
        const onDelete = referentialAction(field.relationOnDelete, field.isRequired ? 'Restrict' : 'SetNull');
        const onUpdate = referentialAction(field.relationOnUpdate, 'Cascade');
        shape.foreignKeys.add(
          `foreign key "${table}_${cols.join('_')}_fkey" on ${table} (${cols.join(', ')}) references ${tableOf(target)} (${refCols.join(', ')}) on delete ${onDelete} on update ${onUpdate}`,
        );
        continue;
      }
      if (field.kind === 'unsupported')
        throw new Error(`schema-drift: Unsupported("${field.type}") is not handled`);
      const base = field.kind === 'enum' ? enumDbName.get(field.type)! : scalarType(field);
      columns.set(field.dbName ?? field.name, {
        type: field.isList ? `${base}[]` : base,
        nullable: !field.isRequired && !field.isList,
        default: expectedDefault(field),
      });
    }
    shape.tables.set(table, columns);
  }

  for (const index of dm.indexes) {
    const model = models.get(index.model)!;
    const table = tableOf(model);
    const cols = index.fields.map((f) => columnOf(model, f.name));
    const suffix = DEFAULT_INDEX_SUFFIX[index.type];
    const name =
      index.dbName ?? (index.type === 'id' ? `${table}_pkey` : `${table}_${cols.join('_')}_${suffix}`);
    shape.indexes.add(`${INDEX_KIND[index.type]} "${name}" on ${table} (${cols.join(', ')})`);
  }
  return shape;
}

export async function expectedSchemaFromFile(
  path: string = join(import.meta.dirname, '..', 'prisma', 'schema.prisma'),
): Promise<SchemaShape> {
  return expectedSchema(await readFile(path, 'utf8'));
}

// ---- the actual side: pg_catalog of the migrated database ---------------------------------

/** Reduces a Postgres default expression (pg_get_expr) and Prisma's dbgenerated() text to one form. */
export function normalizeDefault(expr: string): string {
  let e = expr.trim();
  if (/^nextval\(/i.test(e)) return 'autoincrement()';
  if (/^(CURRENT_TIMESTAMP|now\(\))$/i.test(e)) return 'now()';
  // Drop trailing casts: 'developer'::"UserRole", ''::text, ARRAY[]::text[].
  for (;;) {
    const stripped = e.replace(/::(?:"[^"]+"|[a-z_][a-z0-9_ ]*(?:\([0-9, ]+\))?)(?:\[\])?$/i, '');
    if (stripped === e) break;
    e = stripped;
  }
  const array = /^ARRAY\[(.*)\]$/is.exec(e);
  if (array !== null) {
    const items = array[1]!.trim();
    return `{${
      items === ''
        ? ''
        : items
            .split(',')
            .map((item) => normalizeDefault(item))
            .join(',')
    }}`;
  }
  if (e === "'{}'") return '{}';
  return e;
}

export async function actualSchema(databaseUrl: string, schema = 'public'): Promise<SchemaShape> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const shape: SchemaShape = {
      tables: new Map(),
      enums: new Map(),
      indexes: new Set(),
      foreignKeys: new Set(),
    };

    const columns = await client.query<{
      table: string;
      column: string;
      type: string;
      notnull: boolean;
      default: string | null;
    }>(
      `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
              a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS default
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
        ORDER BY c.relname, a.attnum`,
      [schema],
    );
    for (const row of columns.rows) {
      if (IGNORED_TABLES.has(row.table)) continue;
      const table = shape.tables.get(row.table) ?? new Map<string, ColumnShape>();
      shape.tables.set(row.table, table);
      table.set(row.column, {
        type: row.type.replaceAll('"', ''),
        nullable: !row.notnull,
        default: row.default === null ? null : normalizeDefault(row.default),
      });
    }

    const enums = await client.query<{ name: string; values: string[] }>(
      `SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS values
         FROM pg_type t
         JOIN pg_namespace n ON n.oid = t.typnamespace
         JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE n.nspname = $1
        GROUP BY t.typname`,
      [schema],
    );
    for (const row of enums.rows) shape.enums.set(row.name, row.values);

    const indexes = await client.query<{
      name: string;
      table: string;
      primary: boolean;
      unique: boolean;
      columns: string[];
      partial: boolean;
    }>(
      `SELECT ic.relname AS name, tc.relname AS table, i.indisprimary AS primary, i.indisunique AS unique,
              i.indpred IS NOT NULL AS partial,
              ARRAY(SELECT COALESCE(a.attname, '(expression)')
                      FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                      LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                     ORDER BY k.ord)::text[] AS columns
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_class tc ON tc.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = tc.relnamespace
        WHERE n.nspname = $1`,
      [schema],
    );
    for (const row of indexes.rows) {
      if (IGNORED_TABLES.has(row.table)) continue;
      const kind = row.primary ? 'primary key' : row.unique ? 'unique index' : 'index';
      const where = row.partial ? ' (partial)' : '';
      shape.indexes.add(`${kind} "${row.name}" on ${row.table} (${row.columns.join(', ')})${where}`);
    }

    const fks = await client.query<{
      name: string;
      table: string;
      columns: string[];
      ref_table: string;
      ref_columns: string[];
      on_delete: string;
      on_update: string;
    }>(
      `SELECT con.conname AS name, tc.relname AS table, rc.relname AS ref_table,
              ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                     ORDER BY k.ord)::text[] AS columns,
              ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
                     ORDER BY k.ord)::text[] AS ref_columns,
              con.confdeltype AS on_delete, con.confupdtype AS on_update
         FROM pg_constraint con
         JOIN pg_class tc ON tc.oid = con.conrelid
         JOIN pg_class rc ON rc.oid = con.confrelid
         JOIN pg_namespace n ON n.oid = con.connamespace
        WHERE con.contype = 'f' AND n.nspname = $1`,
      [schema],
    );
    const action: Record<string, string> = {
      a: 'no action',
      r: 'restrict',
      c: 'cascade',
      n: 'set null',
      d: 'set default',
    };
    for (const row of fks.rows) {
      if (IGNORED_TABLES.has(row.table)) continue;
      shape.foreignKeys.add(
        `foreign key "${row.name}" on ${row.table} (${row.columns.join(', ')}) references ${row.ref_table} (${row.ref_columns.join(', ')}) on delete ${action[row.on_delete]} on update ${action[row.on_update]}`,
      );
    }
    return shape;
  } finally {
    await client.end();
  }
}

// ---- the comparison ------------------------------------------------------------------------

function describeColumn(c: ColumnShape): string {
  return `${c.type}${c.nullable ? ' NULL' : ' NOT NULL'}${c.default === null ? '' : ` DEFAULT ${c.default}`}`;
}

/**
 * Every difference, one readable line each; empty when the database is what schema.prisma
 * describes. "schema.prisma has" lines are missing from the database, "database has" lines are
 * not in schema.prisma.
 */
export function diffSchemas(expected: SchemaShape, actual: SchemaShape): string[] {
  const problems: string[] = [];

  for (const [name, values] of expected.enums) {
    const found = actual.enums.get(name);
    if (found === undefined) problems.push(`enum "${name}": in schema.prisma, missing from the database`);
    else if (found.join(',') !== values.join(',')) {
      problems.push(
        `enum "${name}": schema.prisma has (${values.join(', ')}), database has (${found.join(', ')})`,
      );
    }
  }
  for (const name of actual.enums.keys()) {
    if (!expected.enums.has(name)) problems.push(`enum "${name}": in the database, not in schema.prisma`);
  }

  for (const [table, columns] of expected.tables) {
    const found = actual.tables.get(table);
    if (found === undefined) {
      problems.push(`table "${table}": in schema.prisma, missing from the database`);
      continue;
    }
    for (const [column, want] of columns) {
      const got = found.get(column);
      if (got === undefined) {
        problems.push(
          `column "${table}"."${column}": schema.prisma has ${describeColumn(want)}, missing from the database`,
        );
      } else if (describeColumn(got) !== describeColumn(want)) {
        problems.push(
          `column "${table}"."${column}": schema.prisma has ${describeColumn(want)}, database has ${describeColumn(got)}`,
        );
      }
    }
    for (const [column, got] of found) {
      if (!columns.has(column)) {
        problems.push(
          `column "${table}"."${column}": database has ${describeColumn(got)}, not in schema.prisma`,
        );
      }
    }
  }
  for (const table of actual.tables.keys()) {
    if (!expected.tables.has(table)) problems.push(`table "${table}": in the database, not in schema.prisma`);
  }

  for (const [kind, want, got] of [
    ['index', expected.indexes, actual.indexes],
    ['foreign key', expected.foreignKeys, actual.foreignKeys],
  ] as const) {
    for (const d of want)
      if (!got.has(d)) problems.push(`${kind}: schema.prisma has ${d}, missing from the database`);
    for (const d of got) if (!want.has(d)) problems.push(`${kind}: database has ${d}, not in schema.prisma`);
  }
  return problems;
}

/** Throws with every difference listed when the database has drifted from schema.prisma. */
export async function assertNoDrift(databaseUrl: string, schemaText?: string): Promise<void> {
  const expected = schemaText === undefined ? await expectedSchemaFromFile() : expectedSchema(schemaText);
  const problems = diffSchemas(expected, await actualSchema(databaseUrl));
  if (problems.length > 0) {
    throw new Error(
      `the database does not match schema.prisma (${problems.length} difference${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}
