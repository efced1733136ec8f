import { z } from '@tollgate/config';
import { invalid, TollgateError } from '../errors.ts';

/** Largest /admin/v1 request body (an API's OpenAPI document is the big one). */
export const MAX_BODY_BYTES = 1_048_576;

/**
 * Reads an /admin/v1 request body: JSON (415 for another media type), at most MAX_BODY_BYTES
 * (413, counted while reading, so a huge body is never buffered whole), valid UTF-8, a JSON
 * object (400 for an array, a string or null), and no NUL in any key or string (400: Postgres
 * cannot store it in text or jsonb). An empty body is `{}`.
 */
export async function readJsonObject(request: Request): Promise<Record<string, unknown>> {
  const declared = Number(request.headers.get('content-length'));
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const bytes = await readCapped(request);
  if (bytes.length === 0) return {};
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type))
    throw new TollgateError(
      'unsupported_media_type',
      'UNSUPPORTED_MEDIA_TYPE',
      'Send the body as JSON with "Content-Type: application/json".',
    );
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new TollgateError('invalid', 'INVALID_JSON', 'The body is not valid UTF-8 JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TollgateError('invalid', 'BODY_NOT_OBJECT', 'The body must be a JSON object.');
  if (containsNul(value))
    throw new TollgateError('invalid', 'INVALID_CHARACTER', 'Text must not contain NUL (U+0000).');
  return value as Record<string, unknown>;
}

function tooLarge(): TollgateError {
  return new TollgateError(
    'payload_too_large',
    'BODY_TOO_LARGE',
    `The body is over ${MAX_BODY_BYTES} bytes.`,
  );
}

async function readCapped(request: Request): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).some(([key, v]) => key.includes('\u0000') || containsNul(v));
  return false;
}

type JsonSchema = Record<string, unknown> & { properties?: Record<string, unknown>; required?: string[] };
type ObjectSchema = z.ZodObject<Record<string, z.ZodType>>;

/** The JSON contract of one operation's request body: its JSON Schema, and a validator built from it. */
export interface BodyContract {
  schema: JsonSchema;
  /** PATCH: every field optional, the body itself optional. */
  partial: boolean;
  validator: z.ZodType;
  /** The use case's schema of each field: the words of a refusal (core's messages, such as "no port"). */
  fields: Record<string, z.ZodType>;
}

export function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
  return rest;
}

/**
 * A field is required exactly when its schema refuses its absence: the use cases' form helpers
 * turn a missing value into '' or null, which z.toJSONSchema cannot see through a preprocess.
 */
export function requiredKeys(schema: ObjectSchema, keys: string[]): string[] {
  return keys.filter((key) => !schema.shape[key]!.safeParse(undefined).success);
}

/**
 * The body contract from a use case's schema, without the fields the path supplies. The use
 * cases also parse HTML forms, so they coerce ("on" is true, "5" is 5, a blank is null); the
 * REST API takes JSON, whose contract is the strict JSON Schema of that input. readBody checks
 * it with a validator built back from that JSON Schema, so the API refuses exactly what its
 * OpenAPI document says it refuses, then hands the body, unchanged, to the use case.
 */
export function jsonBody(
  schema: ObjectSchema,
  opts: { omit?: string[]; partial?: boolean } = {},
): BodyContract {
  const keys = Object.keys(schema.shape).filter((k) => !opts.omit?.includes(k));
  const json = jsonSchemaOf(z.object(Object.fromEntries(keys.map((k) => [k, schema.shape[k]!]))));
  const required = opts.partial ? [] : requiredKeys(schema, keys);
  delete json.required;
  if (required.length > 0) json.required = required;
  return {
    schema: json,
    partial: opts.partial ?? false,
    validator: z.fromJSONSchema(json as Parameters<typeof z.fromJSONSchema>[0]),
    fields: Object.fromEntries(keys.map((k) => [k, schema.shape[k]!])),
  };
}

/**
 * readJsonObject, then the operation's contract (400 naming each bad field); returns the body as
 * sent. The contract decides what is refused; a field the use case's own schema also refuses is
 * explained in its words (a JSON Schema pattern says less than "must not have a port").
 */
export async function readBody(request: Request, contract: BodyContract): Promise<Record<string, unknown>> {
  const body = await readJsonObject(request);
  const result = contract.validator.safeParse(body);
  if (result.success) return body;
  const fieldErrors: Record<string, string> = {};
  /** Per refused top-level field: whether the use case's schema refuses it too (and said why). */
  const inOwnWords = new Map<string, boolean>();
  for (const issue of result.error.issues) {
    const key = issue.path[0];
    const own = typeof key === 'string' ? contract.fields[key] : undefined;
    if (typeof key === 'string' && own !== undefined) {
      if (!inOwnWords.has(key)) {
        const parsed = own.safeParse(body[key]);
        inOwnWords.set(key, !parsed.success);
        for (const ownIssue of parsed.error?.issues ?? [])
          fieldErrors[[key, ...ownIssue.path].join('.')] ??= ownIssue.message;
      }
      if (inOwnWords.get(key)) continue;
    }
    fieldErrors[issue.path.join('.') || '_'] ??= issue.message;
  }
  const [field, message] = Object.entries(fieldErrors)[0]!;
  throw invalid(field === '_' ? message : `${field}: ${message}`, fieldErrors);
}
