import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type CategoricalColumn,
  type Column,
  type NumericColumn,
  readColumns,
  readHeader,
  scanColumns,
} from '../../src/data/table.js';
import { csvFiles, refusal } from '../helpers/refusal.js';

const PENGUINS = new URL('../fixtures/penguins.csv', import.meta.url).pathname;
const file = csvFiles('table');

function numeric(c: Column | undefined): number[] {
  expect(c?.kind).toBe('numeric');
  return Array.from((c as NumericColumn).values);
}

/** A categorical column decoded back to its values (null = missing). */
function decoded(c: Column | undefined): (string | number | null)[] {
  expect(c?.kind).toBe('categorical');
  const { codes, categories } = c as CategoricalColumn;
  return Array.from(codes, (k) => (k < 0 ? null : (categories[k] as string | number)));
}

describe('readColumns', () => {
  it('reads numbers (NaN for missing) and categories (sorted, -1 for missing) in the order asked', async () => {
    const text = 'name,score,color,extra\na,1.5,red,x\nb,NA,blue,y\nc,-2,,z\nd,3e1,red,w\n';
    const path = file(text);
    const t = await readColumns(path, [
      { name: 'color', kind: 'categorical' },
      { name: 'score', kind: 'numeric' },
    ]);
    expect(t.nRows).toBe(4);
    expect(t.sha256).toBe(createHash('sha256').update(text).digest('hex'));
    expect(t.columns.map((c) => c.name)).toEqual(['color', 'score']);
    expect((t.columns[0] as CategoricalColumn).categories).toEqual(['blue', 'red']);
    expect(Array.from((t.columns[0] as CategoricalColumn).codes)).toEqual([1, 0, -1, 1]);
    expect(numeric(t.columns[1])).toEqual([1.5, Number.NaN, -2, 30]);
  });

  it('keeps numeric categories numbers (a 0/1 column stays 0 and 1), "1.0" and "1" being one', async () => {
    const t = await readColumns(file('response,events\n1,10\n0,2\n1.0,2\n0,NA\n'), [
      { name: 'response', kind: 'categorical' },
      { name: 'events', kind: 'categorical' },
    ]);
    expect((t.columns[0] as CategoricalColumn).categories).toEqual([0, 1]);
    expect(decoded(t.columns[0])).toEqual([1, 0, 1, 0]);
    // sorted as numbers, not as text ("10" < "2")
    expect((t.columns[1] as CategoricalColumn).categories).toEqual([2, 10]);
    expect(decoded(t.columns[1])).toEqual([10, 2, 2, null]);
  });

  it('mixed numbers and words are string categories, sorted by code unit', async () => {
    const t = await readColumns(file('a\n10\nb\n9\nB\n'), [{ name: 'a', kind: 'categorical' }]);
    expect((t.columns[0] as CategoricalColumn).categories).toEqual(['10', '9', 'B', 'b']);
    expect(decoded(t.columns[0])).toEqual(['10', 'b', '9', 'B']);
  });

  it('round-trips penguins: every cell decodes to the text in the file', async () => {
    const t = await readColumns(PENGUINS, [
      { name: 'species', kind: 'categorical' },
      { name: 'island', kind: 'categorical' },
      { name: 'body_mass_g', kind: 'numeric' },
      { name: 'sex', kind: 'categorical' },
    ]);
    expect(t.nRows).toBe(344);
    const { readFileSync } = await import('node:fs');
    const rows = readFileSync(PENGUINS, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',').map((c) => c.replace(/"/g, '')));
    const back = (c: string | number | null) => (c === null ? 'NA' : String(c));
    expect(decoded(t.columns[0]).map(back)).toEqual(rows.map((r) => r[0]));
    expect(decoded(t.columns[1]).map(back)).toEqual(rows.map((r) => r[1]));
    expect(numeric(t.columns[2]).map((v) => (Number.isNaN(v) ? 'NA' : String(v)))).toEqual(
      rows.map((r) => r[5]),
    );
    expect(decoded(t.columns[3]).map(back)).toEqual(rows.map((r) => r[6]));
  });

  it('given categories fix the codes, even for categories absent from the file', async () => {
    const t = await readColumns(file('c\nb\nd\nb\n'), [
      { name: 'c', kind: 'categorical', categories: ['d', 'a', 'b'] },
    ]);
    expect((t.columns[0] as CategoricalColumn).categories).toEqual(['a', 'b', 'd']);
    expect(Array.from((t.columns[0] as CategoricalColumn).codes)).toEqual([1, 2, 1]);
  });

  it('given numeric categories match cells by value', async () => {
    const t = await readColumns(file('c\n1.0\n2\n'), [
      { name: 'c', kind: 'categorical', categories: [2, 1] },
    ]);
    expect(decoded(t.columns[0])).toEqual([1, 2]);
  });

  it('a cell outside given categories is an error, or missing with unknownCategory "missing"', async () => {
    const path = file('c,x\nb,1\nz,2\n');
    const spec = [{ name: 'c', kind: 'categorical' as const, categories: ['a', 'b'] }];
    const err = await refusal(readColumns(path, spec));
    expect(err.message).toMatch(/line 3, column "c": "z" is not one of the known categories "a", "b"/);
    expect(err.message).toMatch(/--unknown-category missing/);
    const t = await readColumns(path, spec, { unknownCategory: 'missing' });
    expect(decoded(t.columns[0])).toEqual(['b', null]);
  });

  it('NA markers follow naValues; an empty cell is always missing', async () => {
    const path = file('a,b\nNA,x\n,y\n-,z\n');
    const t = await readColumns(
      path,
      [
        { name: 'a', kind: 'categorical' },
        { name: 'b', kind: 'categorical' },
      ],
      { naValues: ['-'] },
    );
    expect(decoded(t.columns[0])).toEqual(['NA', null, null]);
  });

  it('a required column (the target) refuses a missing cell naming the line', async () => {
    const err = await refusal(
      readColumns(file('y,x\na,1\nNA,2\n'), [{ name: 'y', kind: 'categorical', required: true }]),
    );
    expect(err.message).toMatch(/line 3, column "y": the target is missing \("NA"\)/);
  });

  it('grows past its first buffers and keeps every row', async () => {
    const rows = Array.from({ length: 40_000 }, (_, i) => `${i},${i % 7 === 0 ? 'NA' : `k${i % 5}`}`).join(
      '\n',
    );
    const t = await readColumns(file(`a,b\n${rows}\n`), [
      { name: 'b', kind: 'categorical' },
      { name: 'a', kind: 'numeric' },
    ]);
    expect(t.nRows).toBe(40_000);
    expect(numeric(t.columns[1])[39_999]).toBe(39_999);
    const b = decoded(t.columns[0]);
    expect(b[7]).toBeNull();
    expect(b[39_999]).toBe('k4');
  });

  it('reads across buffer chunks (65,536 rows) into columns of exactly the row count', async () => {
    const n = 2 * 65_536 + 3;
    const rows = Array.from({ length: n }, (_, i) => `${i},k${i % 3}`).join('\n');
    const t = await readColumns(file(`a,b\n${rows}\n`), [
      { name: 'a', kind: 'numeric' },
      { name: 'b', kind: 'categorical' },
    ]);
    expect(t.nRows).toBe(n);
    const a = (t.columns[0] as NumericColumn).values;
    expect(a.length).toBe(n);
    for (const i of [0, 65_535, 65_536, 131_071, 131_072, n - 1]) expect(a[i]).toBe(i);
    const codes = (t.columns[1] as CategoricalColumn).codes;
    expect(codes.length).toBe(n);
    const b = decoded(t.columns[1]);
    for (const i of [65_535, 65_536, n - 1]) expect(b[i]).toBe(`k${i % 3}`);
  });

  it('an inferred column that turns categorical after its first chunk still gets every code', async () => {
    const n = 70_000;
    const cells = Array.from({ length: n }, (_, i) => (i === 69_000 ? 'x' : String(i % 4)));
    const { scans } = await scanColumns(
      file(`a,y\n${cells.map((c, i) => `${c},${i % 2}`).join('\n')}\n`),
      () => [{ name: 'a', mode: 'auto', keep: true }],
    );
    const s = scans[0];
    expect(s?.kind).toBe('categorical');
    expect(s?.categories).toEqual(['0', '1', '2', '3', 'x']);
    expect(s?.distinct).toBe(5);
    const b = decoded(s?.column);
    expect(b.length).toBe(n);
    expect(b).toEqual(cells);
  });

  it('an inferred column that stays numeric keeps its numbers only', async () => {
    const n = 70_000;
    const { scans } = await scanColumns(
      file(`a\n${Array.from({ length: n }, (_, i) => (i % 10 === 0 ? 'NA' : String(i % 50))).join('\n')}\n`),
      () => [{ name: 'a', mode: 'auto', keep: true }],
    );
    const s = scans[0];
    expect(s?.kind).toBe('numeric');
    expect(s?.missing).toBe(n / 10);
    const a = numeric(s?.column);
    expect(a.length).toBe(n);
    expect(a[0]).toBeNaN();
    expect(a[69_999]).toBe(69_999 % 50);
  });

  it('accepts a BOM, CRLF line ends, quoted cells and blank lines, and numbers lines as the file does', async () => {
    const path = file('\uFEFFa,b\r\n\r\n"1",x\r\n\r\n2,"y"\r\noops,z\r\n');
    const t = await readColumns(path, [{ name: 'b', kind: 'categorical' }]);
    expect(decoded(t.columns[0])).toEqual(['x', 'y', 'z']);
    const err = await refusal(readColumns(path, [{ name: 'a', kind: 'numeric' }]));
    expect(err.message).toBe(`${path}: line 6, column "a": "oops" is not a number`);
  });

  it.each([
    ['', /the file is empty/],
    ['a,b\n', /no data rows after the header/],
    ['x,b\n1,2\n', /no column "a" in the header \(columns: x, b\)/],
    ['a,b,a\n1,2,3\n', /duplicate column name "a"/],
    ['a,b\n1,2\n3,4,5\n', /line 3: 3 fields, expected as many as the header/],
  ])('refuses %j in one line naming the file', async (text, message) => {
    const path = file(text);
    const err = await refusal(readColumns(path, [{ name: 'a', kind: 'numeric' }]));
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(path)).toBe(true);
  });
});

describe('readHeader', () => {
  it('reads the first record only', async () => {
    expect(await readHeader(file('\uFEFF"a","b c"\n1,2\n3\n'))).toEqual(['a', 'b c']);
  });

  it('refuses an empty file and duplicate names', async () => {
    expect((await refusal(readHeader(file('')))).message).toMatch(/the file is empty/);
    expect((await refusal(readHeader(file('a,a\n')))).message).toMatch(/duplicate column name "a"/);
  });
});
