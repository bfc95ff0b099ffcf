import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inferSchema } from '../../src/data/infer.js';
import type { ColumnSchema, DataSchema } from '../../src/data/schema.js';
import { DISTINCT_CAP } from '../../src/data/table.js';
import { csvFiles, refusal } from '../helpers/refusal.js';

const PENGUINS = new URL('../fixtures/penguins.csv', import.meta.url).pathname;
const file = csvFiles('infer');

function col(schema: DataSchema, name: string): ColumnSchema {
  const c = schema.columns.find((x) => x.name === name);
  if (!c) throw new Error(`no column ${name}`);
  return c;
}

/** An independent count over the penguins file (no quoted commas in it): NA cells and distinct values. */
function naiveCounts(): Map<string, { na: number; distinct: number }> {
  const lines = readFileSync(PENGUINS, 'utf8').trim().split('\n');
  const header = (lines[0] as string).split(',').map((s) => s.replace(/"/g, ''));
  const out = new Map<string, { na: number; distinct: number }>();
  header.forEach((name, j) => {
    const cells = lines.slice(1).map((l) => (l.split(',')[j] as string).replace(/"/g, ''));
    out.set(name, {
      na: cells.filter((c) => c === 'NA').length,
      distinct: new Set(cells.filter((c) => c !== 'NA')).size,
    });
  });
  return out;
}

describe('inferSchema on penguins', () => {
  it('finds the kinds, the NA counts, the categories and the statistics', async () => {
    const s = await inferSchema(PENGUINS, { target: 'species' });
    expect(s.rows).toBe(344);
    expect(s.target).toBe('species');
    expect(s.columns.map((c) => c.name)).toEqual([
      'species',
      'island',
      'bill_length_mm',
      'bill_depth_mm',
      'flipper_length_mm',
      'body_mass_g',
      'sex',
      'year',
    ]);
    expect(col(s, 'species')).toEqual({
      name: 'species',
      role: 'target',
      kind: 'categorical',
      missing: 0,
      distinct: 3,
      categories: ['Adelie', 'Chinstrap', 'Gentoo'],
    });
    expect(col(s, 'island')).toMatchObject({
      role: 'feature',
      kind: 'categorical',
      categories: ['Biscoe', 'Dream', 'Torgersen'],
    });
    expect(col(s, 'sex')).toMatchObject({ kind: 'categorical', missing: 11, categories: ['female', 'male'] });
    expect(col(s, 'flipper_length_mm')).toMatchObject({ kind: 'numeric', missing: 2, min: 172, max: 231 });
    expect(col(s, 'year')).toMatchObject({ kind: 'numeric', missing: 0, distinct: 3, min: 2007, max: 2009 });
    // The counts agree with an independent count over the file.
    for (const [name, { na, distinct }] of naiveCounts()) {
      expect(col(s, name).missing, name).toBe(na);
      expect(col(s, name).distinct, name).toBe(distinct);
    }
    const mass = readFileSync(PENGUINS, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[5] as string)
      .filter((c) => c !== 'NA')
      .map(Number);
    expect(col(s, 'body_mass_g').mean).toBeCloseTo(mass.reduce((a, b) => a + b, 0) / mass.length, 9);
  });

  it('without a target every column is a feature and the target is null', async () => {
    const s = await inferSchema(PENGUINS);
    expect(s.target).toBeNull();
    expect(new Set(s.columns.map((c) => c.role))).toEqual(new Set(['feature']));
    expect(s.naValues).toEqual(['', 'NA', 'NaN', 'null', '?']);
  });

  it('--na-values changes what is missing (an empty cell always is)', async () => {
    const s = await inferSchema(PENGUINS, { naValues: ['-'] });
    // "NA" is now a category of its own: the numeric columns with NA cells turn categorical.
    expect(col(s, 'sex')).toMatchObject({ missing: 0, categories: ['NA', 'female', 'male'] });
    expect(col(s, 'bill_length_mm').kind).toBe('categorical');
    expect(col(s, 'year').kind).toBe('numeric');
    expect(s.naValues).toEqual(['', '-']);
    const t = await inferSchema(file('a,b\n1,x\n-,y\n,z\n3,-\n'), { naValues: ['-'] });
    expect(col(t, 'a')).toMatchObject({ kind: 'numeric', missing: 2, distinct: 2, min: 1, mean: 2, max: 3 });
    expect(col(t, 'b')).toMatchObject({ kind: 'categorical', missing: 1, categories: ['x', 'y', 'z'] });
  });
});

describe('inferSchema: numeric or categorical', () => {
  it.each([
    ['integers, decimals, exponents, signs', ['1', '-2.5', '+3e2', '.5', '7.'], 'numeric'],
    ['a word among numbers', ['1', '2', 'x'], 'categorical'],
    ['hexadecimal', ['0x10', '1'], 'categorical'],
    ['Infinity', ['Infinity', '1'], 'categorical'],
    ['spaces around a number', [' 1', '2'], 'categorical'],
    ['a thousands separator', ['"1,000"', '2'], 'categorical'],
    ['booleans', ['true', 'false'], 'categorical'],
  ])('%s → %s', async (_what, cells, kind) => {
    const s = await inferSchema(file(`v,w\n${cells.map((c, i) => `${c},${i}`).join('\n')}\n`));
    expect(col(s, 'v').kind).toBe(kind);
  });

  it('a column with every cell missing is numeric with no statistics', async () => {
    const s = await inferSchema(file('a,b\nNA,1\n,2\n?,3\n'));
    expect(col(s, 'a')).toEqual({ name: 'a', role: 'feature', kind: 'numeric', missing: 3, distinct: 0 });
  });

  it('a numeric target gets numeric class labels, sorted as numbers', async () => {
    const s = await inferSchema(file('x,y\n1,10\n2,9\n3,10\n4,2\n'), { target: 'y' });
    expect(col(s, 'y')).toMatchObject({ role: 'target', kind: 'categorical', categories: [2, 9, 10] });
  });

  it('counts numeric distinct values exactly up to the cap, then as a lower bound', async () => {
    const rows = Array.from({ length: DISTINCT_CAP + 10 }, (_, i) => `${i},${i % 3}`).join('\n');
    const s = await inferSchema(file(`a,b\n${rows}\n`));
    expect(col(s, 'a')).toMatchObject({ kind: 'numeric', distinct: DISTINCT_CAP, distinctAtLeast: true });
    expect(col(s, 'b')).toMatchObject({ distinct: 3 });
    expect(col(s, 'b').distinctAtLeast).toBeUndefined();
  });

  it('a column that looks numeric past the cap and then is not gets all its categories (second pass)', async () => {
    const many = Array.from({ length: DISTINCT_CAP + 5 }, (_, i) => `${i}`);
    const s = await inferSchema(file(`a\n${[...many, 'oops'].join('\n')}\n`));
    const a = col(s, 'a');
    expect(a.kind).toBe('categorical');
    expect(a.distinct).toBe(DISTINCT_CAP + 6);
    expect(a.distinctAtLeast).toBeUndefined();
    expect(a.categories?.length).toBe(DISTINCT_CAP + 6);
    expect(a.categories?.at(-1)).toBe('oops');
  });

  it('"1" and "1.0" in a numeric column are one distinct value', async () => {
    const s = await inferSchema(file('a\n1\n1.0\n2\n'));
    expect(col(s, 'a').distinct).toBe(2);
  });
});

describe('inferSchema: bad input is one line naming what is wrong', () => {
  it.each([
    ['an empty file', '', /the file is empty/],
    ['only blank lines', '\n\n', /the file is empty/],
    ['a header only', 'a,b\n', /no data rows after the header/],
    ['a duplicate column name', 'a,b,a\n1,2,3\n', /line 1: duplicate column name "a" .*columns 1 and 3/],
    ['an unnamed column', '"",a\n1,2\n', /column 1 of the header has no name/],
    ['a ragged row', 'a,b\n1,2\n3\n', /line 3: 1 fields, expected as many as the header/],
    ['an unclosed quote', 'a,b\n1,"2\n', /line 2/],
  ])('%s', async (_what, text, message) => {
    const path = file(text);
    const err = await refusal(inferSchema(path));
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(path)).toBe(true);
  });

  it('a target that is not a column lists the columns', async () => {
    const err = await refusal(inferSchema(PENGUINS, { target: 'specie' }), 'SEGSERVE_ERR_SCHEMA');
    expect(err.message).toMatch(/"specie" is not a column \(columns: species, island, .*, year\)/);
  });

  it('a missing file', async () => {
    const err = await refusal(inferSchema(join(dirname(file('x\n')), 'nope.csv')), 'SEGSERVE_ERR_INPUT_PATH');
    expect(err.message).toMatch(/no such file/);
  });
});
