import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../test/csv-parse.ts';
import { csvRecord, csvText } from './csv.ts';

describe('csv', () => {
  it('quotes fields with comma, quote, CR or LF and doubles quotes (RFC 4180)', () => {
    expect(csvText('plain')).toBe('plain');
    expect(csvText('a,b')).toBe('"a,b"');
    expect(csvText('say "hi"')).toBe('"say ""hi"""');
    expect(csvText('line\nbreak')).toBe('"line\nbreak"');
    expect(csvText('cr\rhere')).toBe('"cr\rhere"');
    expect(csvText(null)).toBe('');
    expect(csvRecord(['a', 'b'])).toBe('a,b\r\n');
  });

  it('neutralizes spreadsheet formulas by prefixing a single quote', () => {
    expect(csvText('=HYPERLINK("http://evil")')).toBe(`"'=HYPERLINK(""http://evil"")"`);
    expect(csvText('+1')).toBe("'+1");
    expect(csvText('-2+3')).toBe("'-2+3");
    expect(csvText('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvText('\t=1')).toBe("'\t=1");
    expect(csvText('a=b')).toBe('a=b');
  });

  it('any text cells read back unchanged apart from the formula prefix', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 5 }), { maxLength: 5 }),
        (rows) => {
          const text = rows.map((r) => csvRecord(r.map(csvText))).join('');
          const back = parseCsv(text);
          const expected = rows.map((r) => r.map((v) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v)));
          expect(back).toEqual(expected);
        },
      ),
    );
  });
});
