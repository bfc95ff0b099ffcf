import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inferSchema } from '../../src/data/infer.js';
import { type ResolveFlags, resolveSchema } from '../../src/data/resolve.js';
import { schemaFileBeside } from '../../src/data/schema.js';
import { type CategoricalColumn, type NumericColumn, readColumns } from '../../src/data/table.js';
import { DEFAULT_SEED } from '../../src/defaults.js';
import type { CliErrorCode } from '../../src/errors.js';
import { customersSchema, simulateToFiles } from '../../src/simulate/simulate.js';
import { DEFAULT_SPEC } from '../../src/simulate/spec.js';
import { refusal } from '../helpers/refusal.js';

const PENGUINS = new URL('../fixtures/penguins.csv', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'segserve-resolve-'));
let serial = 0;

/** A fresh folder holding `files` (name → text, or an object written as JSON). */
function folder(files: Record<string, string | object>): string {
  const dir = join(root, `case-${++serial}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

/** t: the target (a/b); x numeric; c 0/1 (numeric-looking); w words; id distinct per row. */
const DATA = 't,x,c,w,id\na,1.5,0,red,1\nb,2.5,1,blue,2\na,3,1,red,3\nb,NA,0,,4\na,5,1,blue,5\n';

async function kinds(path: string, flags: ResolveFlags): Promise<Record<string, string>> {
  const r = await resolveSchema(path, flags);
  return Object.fromEntries(r.features.map((f) => [f.name, f.kind]));
}

describe('resolveSchema: roles, kinds and the data in one pass', () => {
  it('infers every kind with only --target, and returns the data as readColumns reads it', async () => {
    const dir = folder({ 'd.csv': DATA });
    const path = join(dir, 'd.csv');
    const r = await resolveSchema(path, { target: 't' });
    expect(r.target).toBe('t');
    expect(r.classes).toEqual(['a', 'b']);
    expect(r.features).toEqual([
      { name: 'x', kind: 'numeric' },
      { name: 'c', kind: 'numeric' },
      { name: 'w', kind: 'categorical', categories: ['blue', 'red'] },
      { name: 'id', kind: 'numeric' },
    ]);
    expect(r.naValues).toEqual(['', 'NA', 'NaN', 'null', '?']);
    expect(r.unknownCategory).toBe('error');
    expect(r.sources).toEqual(['command line (--target)', `inferred from ${path} (kind of x, c, w, id)`]);
    expect(r.table.nRows).toBe(5);
    expect(r.table.columns.map((c) => c.name)).toEqual(['x', 'c', 'w', 'id', 't']);
    const again = await readColumns(path, [...r.features, { name: 't', kind: 'categorical' }]);
    expect(r.table).toEqual(again);
    expect(r.schema.columns.map((c) => [c.name, c.role, c.kind, c.missing])).toEqual([
      ['t', 'target', 'categorical', 0],
      ['x', 'feature', 'numeric', 1],
      ['c', 'feature', 'numeric', 0],
      ['w', 'feature', 'categorical', 1],
      ['id', 'feature', 'numeric', 0],
    ]);
  });

  it('--features picks the features in the given order; --ignore leaves columns out', async () => {
    const path = join(folder({ 'd.csv': DATA }), 'd.csv');
    const r = await resolveSchema(path, { target: 't', features: ['w', 'x'] });
    expect(r.features.map((f) => f.name)).toEqual(['w', 'x']);
    expect(r.schema.columns.find((c) => c.name === 'id')?.role).toBe('ignored');
    const s = await resolveSchema(path, { target: 't', ignore: ['id', 'c'] });
    expect(s.features.map((f) => f.name)).toEqual(['x', 'w']);
  });

  it('precedence: a flag beats --schema, which beats the file beside the data, which beats inference', async () => {
    const dir = folder({
      'd.csv': DATA,
      'd.schema.json': {
        target: 't',
        columns: [
          { name: 'c', kind: 'categorical' },
          { name: 'x', kind: 'categorical' },
        ],
      },
      'other.json': { target: 't', columns: [{ name: 'c', kind: 'numeric' }] },
    });
    const path = join(dir, 'd.csv');
    // inference alone (the beside file hidden by --schema of a file stating nothing about c)
    writeFileSync(join(dir, 'empty.json'), JSON.stringify({ target: 't' }));
    expect((await kinds(path, { schemaPath: join(dir, 'empty.json') })).c).toBe('numeric');
    // the file beside the data
    const beside = await resolveSchema(path, {});
    expect(beside.features.find((f) => f.name === 'c')).toEqual({
      name: 'c',
      kind: 'categorical',
      categories: [0, 1],
    });
    expect(beside.features.find((f) => f.name === 'x')?.kind).toBe('categorical');
    expect(beside.sources[0]).toBe(`schema file ${join(dir, 'd.schema.json')} (beside the data)`);
    // --schema replaces the beside file (x is inferred again)
    expect(await kinds(path, { schemaPath: join(dir, 'other.json') })).toMatchObject({
      c: 'numeric',
      x: 'numeric',
    });
    // a flag beats --schema
    expect((await kinds(path, { schemaPath: join(dir, 'other.json'), categorical: ['c'] })).c).toBe(
      'categorical',
    );
    // and beats the beside file
    expect((await kinds(path, { numeric: ['c'] })).c).toBe('numeric');
  });

  it('precedence of the target, the NA markers and the unknown-category policy', async () => {
    const dir = folder({
      'd.csv': 'a,b,c\nx,1,p\ny,2,q\nx,3,-\ny,4,p\nx,5,q\ny,6,-\n',
      'd.schema.json': { target: 'a', naValues: ['-'], unknownCategory: 'missing' },
    });
    const path = join(dir, 'd.csv');
    const fromFile = await resolveSchema(path);
    expect([fromFile.target, fromFile.naValues, fromFile.unknownCategory]).toEqual([
      'a',
      ['', '-'],
      'missing',
    ]);
    expect(fromFile.schema.columns.find((c) => c.name === 'c')?.missing).toBe(2);
    const fromFlags = await resolveSchema(path, { target: 'c', naValues: ['?'], unknownCategory: 'error' });
    expect([fromFlags.target, fromFlags.naValues, fromFlags.unknownCategory]).toEqual([
      'c',
      ['', '?'],
      'error',
    ]);
    expect(fromFlags.classes).toEqual(['-', 'p', 'q']);
    // The file's target, when the command line picks another, is left out of the features.
    expect(fromFlags.features.map((f) => f.name)).toEqual(['b']);
  });

  it('the schema file beside x.csv is x.schema.json (not x.csv.schema.json); beside x.txt, x.txt.schema.json', async () => {
    expect(schemaFileBeside('data/customers.csv')).toBe('data/customers.schema.json');
    expect(schemaFileBeside('data/X.CSV')).toBe('data/X.schema.json');
    expect(schemaFileBeside('data/x.txt')).toBe('data/x.txt.schema.json');
    const dir = folder({
      'd.txt': DATA,
      'd.txt.schema.json': { target: 't' },
      'e.csv': DATA,
      'e.csv.schema.json': { target: 't' },
    });
    expect((await resolveSchema(join(dir, 'd.txt'))).target).toBe('t');
    const err = await refusal(resolveSchema(join(dir, 'e.csv')), 'SEGSERVE_ERR_SCHEMA');
    expect(err.message).toMatch(/--target is required/);
  });

  it('schema file categories fix the categories; a value outside them is refused or, with "missing", missing', async () => {
    const dir = folder({
      'd.csv': DATA,
      's.json': { target: 't', columns: [{ name: 'w', kind: 'categorical', categories: ['red', 'green'] }] },
    });
    const path = join(dir, 'd.csv');
    const err = await refusal(resolveSchema(path, { schemaPath: join(dir, 's.json') }), 'SEGSERVE_ERR_CSV');
    expect(err.message).toMatch(
      /line 3, column "w": "blue" is not one of the known categories "green", "red"/,
    );
    const r = await resolveSchema(path, { schemaPath: join(dir, 's.json'), unknownCategory: 'missing' });
    const w = r.table.columns[r.features.findIndex((f) => f.name === 'w')] as CategoricalColumn;
    expect(w.categories).toEqual(['green', 'red']);
    expect(Array.from(w.codes)).toEqual([1, -1, 1, -1, -1]);
  });

  it('the JSON that inferSchema writes is read back by --schema unchanged', async () => {
    const dir = folder({});
    const schema = await inferSchema(PENGUINS, { target: 'species' });
    writeFileSync(join(dir, 'p.json'), JSON.stringify(schema, null, 2));
    const r = await resolveSchema(PENGUINS, { schemaPath: join(dir, 'p.json') });
    expect(r.target).toBe('species');
    expect(r.classes).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    expect(r.features.map((f) => [f.name, f.kind])).toEqual([
      ['island', 'categorical'],
      ['bill_length_mm', 'numeric'],
      ['bill_depth_mm', 'numeric'],
      ['flipper_length_mm', 'numeric'],
      ['body_mass_g', 'numeric'],
      ['sex', 'categorical'],
      ['year', 'numeric'],
    ]);
    expect(r.schema).toEqual(schema);
    const mass = r.table.columns[4] as NumericColumn;
    expect(mass.values[3]).toBeNaN();
    expect(mass.values[0]).toBe(3750);
  });

  it("the schema simulate writes resolves to the post's model, with no flag", async () => {
    const dir = folder({});
    const path = join(dir, 'customers.csv');
    const schemaPath = await simulateToFiles(path, { spec: DEFAULT_SPEC, seed: DEFAULT_SEED, rows: 2000 });
    expect(schemaPath).toBe(join(dir, 'customers.schema.json'));
    expect(JSON.parse(readFileSync(schemaPath, 'utf8'))).toEqual(customersSchema());
    const r = await resolveSchema(path);
    expect(r.target).toBe('segment');
    expect(r.classes).toEqual([0, 1, 2]);
    expect(r.features.map((f) => [f.name, f.kind])).toEqual([
      ['age', 'numeric'],
      ['income', 'numeric'],
      ['response', 'categorical'],
      ['events', 'categorical'],
    ]);
    expect(r.features[2]?.categories).toEqual([0, 1]);
    expect(r.schema.columns.find((c) => c.name === 'class')?.role).toBe('ignored');
    expect(r.sources).toEqual([`schema file ${schemaPath} (beside the data)`]);
  });
});

describe('resolveSchema: every bad input is one line, exit 2', () => {
  const data = (text = DATA) => join(folder({ 'd.csv': text }), 'd.csv');

  it.each<[string, string | undefined, ResolveFlags, CliErrorCode, RegExp]>([
    [
      'no target known',
      undefined,
      {},
      'SEGSERVE_ERR_SCHEMA',
      /^--target is required: name one of the columns t, x, c, w, id$/,
    ],
    [
      'a target that is not a column',
      undefined,
      { target: 'T' },
      'SEGSERVE_ERR_SCHEMA',
      /--target: "T" is not a column of .*d\.csv \(columns: t, x, c, w, id\)/,
    ],
    [
      'a feature that is not a column',
      undefined,
      { target: 't', features: ['x', 'nope'] },
      'SEGSERVE_ERR_SCHEMA',
      /--features: "nope" is not a column/,
    ],
    [
      'an ignored name that is not a column',
      undefined,
      { target: 't', ignore: ['nope'] },
      'SEGSERVE_ERR_SCHEMA',
      /--ignore: "nope" is not a column/,
    ],
    [
      'a --categorical name that is not a column',
      undefined,
      { target: 't', categorical: ['nope'] },
      'SEGSERVE_ERR_SCHEMA',
      /--categorical: "nope"/,
    ],
    [
      'the target as a feature',
      undefined,
      { target: 't', features: ['x', 't'] },
      'SEGSERVE_ERR_SCHEMA',
      /--features: "t" is the target/,
    ],
    [
      'the target ignored',
      undefined,
      { target: 't', ignore: ['t'] },
      'SEGSERVE_ERR_SCHEMA',
      /--ignore: "t" is the target/,
    ],
    [
      'the target numeric',
      undefined,
      { target: 't', numeric: ['t'] },
      'SEGSERVE_ERR_SCHEMA',
      /"t" is the target, which is always categorical/,
    ],
    [
      'a column both categorical and numeric',
      undefined,
      { target: 't', categorical: ['x'], numeric: ['x'] },
      'SEGSERVE_ERR_SCHEMA',
      /"x" is given both --categorical and --numeric/,
    ],
    [
      'a feature also ignored',
      undefined,
      { target: 't', features: ['x'], ignore: ['x'] },
      'SEGSERVE_ERR_SCHEMA',
      /"x" is given both --features and --ignore/,
    ],
    [
      'no feature left',
      undefined,
      { target: 't', ignore: ['x', 'c', 'w', 'id'] },
      'SEGSERVE_ERR_SCHEMA',
      /no feature left/,
    ],
    [
      'a non-numeric cell in a numeric column',
      undefined,
      { target: 't', numeric: ['w'] },
      'SEGSERVE_ERR_CSV',
      /line 2, column "w": "red" is not a number \(numeric by --numeric\)/,
    ],
    [
      'a class with one row',
      't,x\na,1\na,2\nb,3\n',
      { target: 't' },
      'SEGSERVE_ERR_SCHEMA',
      /class "b" of the target "t" has 1 row/,
    ],
    [
      'one class only',
      't,x\na,1\na,2\n',
      { target: 't' },
      'SEGSERVE_ERR_SCHEMA',
      /the target "t" has one class only \("a"\)/,
    ],
    [
      'a missing target',
      't,x\na,1\nNA,2\nb,3\n',
      { target: 't' },
      'SEGSERVE_ERR_CSV',
      /line 3, column "t": the target is missing/,
    ],
    [
      'a constant feature',
      't,x,k\na,1,5\nb,2,5\na,3,5\nb,4,5\n',
      { target: 't' },
      'SEGSERVE_ERR_SCHEMA',
      /feature "k" is constant \(5 in every row\); drop it with --ignore k/,
    ],
    [
      'a constant categorical feature',
      't,x,k\na,1,u\nb,2,u\na,3,u\nb,4,u\n',
      { target: 't' },
      'SEGSERVE_ERR_SCHEMA',
      /feature "k" is constant \("u" in every row\)/,
    ],
    [
      'an entirely missing feature',
      't,x,k\na,1,NA\nb,2,\na,3,NA\nb,4,?\n',
      { target: 't' },
      'SEGSERVE_ERR_SCHEMA',
      /feature "k" is entirely missing \(4 rows\)/,
    ],
    [
      'a duplicate column',
      't,x,x\na,1,2\n',
      { target: 't' },
      'SEGSERVE_ERR_CSV',
      /duplicate column name "x"/,
    ],
    ['an empty file', '', { target: 't' }, 'SEGSERVE_ERR_CSV', /the file is empty/],
    ['a header only', 't,x\n', { target: 't' }, 'SEGSERVE_ERR_CSV', /no data rows/],
  ])('%s', async (_what, text, flags, code, message) => {
    const err = await refusal(resolveSchema(data(text ?? DATA), flags), code);
    expect(err.message).toMatch(message);
  });

  it('a feature that is one value plus missing cells is kept (missingness can split)', async () => {
    const r = await resolveSchema(data('t,x,k\na,1,5\nb,2,NA\na,3,5\nb,4,NA\n'), { target: 't' });
    expect(r.features.map((f) => f.name)).toEqual(['x', 'k']);
  });

  it.each<[string, string | object, CliErrorCode, RegExp]>([
    ['invalid JSON', '{"target": ', 'SEGSERVE_ERR_CONFIG_FILE', /invalid JSON/],
    ['an unknown key', { target: 't', colums: [] }, 'SEGSERVE_ERR_CONFIG_FILE', /unknown key "colums"/],
    [
      'an unknown column key',
      { columns: [{ name: 'x', knd: 'numeric' }] },
      'SEGSERVE_ERR_CONFIG_FILE',
      /unknown key "columns\[0\]\.knd"/,
    ],
    [
      'a bad kind',
      { columns: [{ name: 'x', kind: 'number' }] },
      'SEGSERVE_ERR_CONFIG_FILE',
      /"columns\[0\]\.kind" must be one of "numeric", "categorical"/,
    ],
    [
      'a column without a name',
      { columns: [{ kind: 'numeric' }] },
      'SEGSERVE_ERR_CONFIG_FILE',
      /missing key "columns\[0\]\.name"/,
    ],
    ['a wrong type', { target: 3 }, 'SEGSERVE_ERR_CONFIG_FILE', /"target" must be string,null/],
    [
      'a column listed twice',
      { columns: [{ name: 'x' }, { name: 'x' }] },
      'SEGSERVE_ERR_CONFIG_FILE',
      /"columns\[1\]\.name": column "x" is listed twice/,
    ],
    [
      'two targets',
      {
        columns: [
          { name: 't', role: 'target' },
          { name: 'x', role: 'target' },
        ],
      },
      'SEGSERVE_ERR_CONFIG_FILE',
      /two targets/,
    ],
    [
      'categories on a numeric column',
      { columns: [{ name: 'x', kind: 'numeric', categories: [1] }] },
      'SEGSERVE_ERR_CONFIG_FILE',
      /categories" given for a numeric column/,
    ],
    [
      'a category listed twice',
      { columns: [{ name: 'w', categories: ['red', 'red'] }] },
      'SEGSERVE_ERR_CONFIG_FILE',
      /lists "red" twice/,
    ],
    [
      'a column not in the data',
      { target: 't', columns: [{ name: 'nope' }] },
      'SEGSERVE_ERR_SCHEMA',
      /column "nope" is not in .*d\.csv \(columns: t, x, c, w, id\)/,
    ],
    [
      'a target not in the data',
      { target: 'nope' },
      'SEGSERVE_ERR_SCHEMA',
      /target "nope" is not a column of/,
    ],
  ])('a schema file with %s names the file and the key', async (_what, content, code, message) => {
    const dir = folder({ 'd.csv': DATA, 's.json': content });
    const err = await refusal(resolveSchema(join(dir, 'd.csv'), { schemaPath: join(dir, 's.json') }), code);
    expect(err.message).toMatch(message);
    expect(err.message).toContain('s.json');
  });

  it('a --schema file that does not exist', async () => {
    const err = await refusal(
      resolveSchema(data(), { schemaPath: join(root, 'nope.json') }),
      'SEGSERVE_ERR_INPUT_PATH',
    );
    expect(err.message).toMatch(/cannot read schema file .*nope\.json: no such file/);
  });

  it('a bad file beside the data is an error too (naming it)', async () => {
    const dir = folder({ 'd.csv': DATA, 'd.schema.json': { kind: 'x' } });
    const err = await refusal(resolveSchema(join(dir, 'd.csv'), { target: 't' }), 'SEGSERVE_ERR_CONFIG_FILE');
    expect(err.message).toMatch(/d\.schema\.json: unknown key "kind"/);
  });
});
