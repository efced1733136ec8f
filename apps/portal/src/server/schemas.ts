import { z } from '@tollgate/config';

/** Field helpers that accept both HTML form strings and JSON values. */
export const blankToNull = (v: unknown) => (v === '' || v === undefined || v === null ? null : v);

const numberFrom = (blank: number | null | undefined) => (v: unknown) => {
  if (v === '' || v === undefined) return blank;
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return v;
};

/**
 * A form's numeric string as a number for `schema` (core's rule for the field, which the JSON
 * Schema of the OpenAPI document states); a blank field is missing.
 */
export const formNumber = <T extends z.ZodType>(schema: T) => z.preprocess(numberFrom(undefined), schema);

/** formNumber, with `fallback` for a blank or missing field. */
export const formNumberOr = <T extends z.ZodType<number | null>>(schema: T, fallback: number | null) =>
  z.preprocess(numberFrom(fallback), schema).default(fallback as never);

/** Comma- or whitespace-separated text, or an array, for a list schema of core's (blanks dropped). */
export const formList = <T extends z.ZodType>(schema: T) =>
  z.preprocess(
    (v) =>
      Array.isArray(v)
        ? v.filter((x) => x !== '')
        : typeof v === 'string'
          ? v
              .split(/[\s,]+/)
              .map((s) => s.trim())
              .filter(Boolean)
          : v === undefined || v === null
            ? []
            : v,
    schema,
  );

export const uuid = z.uuid({ message: 'not a valid id' });
export const trimmed = (max: number) => z.string().trim().min(1, 'required').max(max);
export const optionalText = (max: number) =>
  z.preprocess((v) => (v === undefined || v === null ? '' : v), z.string().trim().max(max));
export const nullableInt = (min = 0) =>
  z.preprocess(blankToNull, z.coerce.number().int().min(min).nullable());
export const nullablePositiveNumber = z.preprocess(blankToNull, z.coerce.number().positive().nullable());
export const intField = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const boolField = z.preprocess(
  (v) => v === true || v === 'on' || v === 'true' || v === '1',
  z.boolean(),
);
export const nullableDecimal = z.preprocess(
  blankToNull,
  z
    .string()
    .regex(/^\d+(\.\d{1,12})?$/, 'a decimal amount of cents, e.g. 0.05')
    .nullable(),
);
/** Comma- or whitespace-separated list, or an array. */
export const stringList = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) =>
      Array.isArray(v)
        ? v.filter((x) => x !== '')
        : typeof v === 'string'
          ? v
              .split(/[\s,]+/)
              .map((s) => s.trim())
              .filter(Boolean)
          : [],
    z.array(item).max(50),
  );
export const slug = z
  .string()
  .trim()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes');
