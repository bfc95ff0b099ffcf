/**
 * `segserve schema`, in process through the program's entry point (the same parsing, output and exit
 * codes as the built CLI): the table, --json, --out (read back by train's --schema), and one-line errors.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { inferSchema } from '../../src/data/infer.js';
import { resolveSchema } from '../../src/data/resolve.js';
import type { DataSchema } from '../../src/data/schema.js';
import { type CliErrorCode, ERRORS } from '../../src/errors.js';
import { errorCode } from '../helpers/cli.js';

const PENGUINS = new URL('../fixtures/penguins.csv', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'segserve-cli-schema-'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `segserve ...args` in process and collects its output and exit code. */
async function run(...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  });
  process.exitCode = undefined;
  try {
    await main(['node', 'segserve', ...args]);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout: out.join(''), stderr: err.join('') };
}

afterEach(() => {
  process.stdout.removeAllListeners('error');
});

/** The error `error` (its code on the one line, its exit code), nothing on stdout, the line matching `message`. */
function expectOneLineError(r: Run, error: CliErrorCode, message: RegExp): void {
  expect(errorCode(r.stderr), r.stderr).toBe(error);
  expect(r.code, r.stderr).toBe(ERRORS[error].exit);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^segserve: [^\n]+\n$/);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/unexpected error/);
}

describe('segserve schema', () => {
  it('prints one line per column: role, kind, missing, distinct, categories or min/mean/max', async () => {
    const r = await run('schema', '--data', PENGUINS, '--target', 'species');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /penguins\.csv: 344 rows, 8 columns, target "species"; missing cells: empty, "NA"/,
    );
    expect(lines[1]).toMatch(/^column\s+role\s+kind\s+missing\s+distinct\s+values$/);
    const line = (name: string) => lines.find((l) => l.startsWith(`${name} `)) ?? '';
    expect(line('species')).toMatch(
      /^species\s+target\s+categorical\s+0\s+3\s+"Adelie", "Chinstrap", "Gentoo"$/,
    );
    expect(line('island')).toMatch(
      /^island\s+feature\s+categorical\s+0\s+3\s+"Biscoe", "Dream", "Torgersen"$/,
    );
    expect(line('sex')).toMatch(/^sex\s+feature\s+categorical\s+11\s+2\s+"female", "male"$/);
    expect(line('body_mass_g')).toMatch(
      /^body_mass_g\s+feature\s+numeric\s+2\s+94\s+min 2700, mean 4201\.75, max 6300$/,
    );
    expect(lines).toHaveLength(2 + 8);
  });

  it('truncates long category lists', async () => {
    const path = join(dir, 'many.csv');
    writeFileSync(
      path,
      `k,v\n${Array.from({ length: 26 }, (_, i) => `${String.fromCharCode(97 + i)},${i}`).join('\n')}\n`,
    );
    const r = await run('schema', '--data', path);
    expect(r.stdout).toMatch(
      /^k\s+feature\s+categorical\s+0\s+26\s+"a", "b", "c", "d", "e", "f", … \(20 more\)$/m,
    );
  });

  it('--json prints the inferred schema; --na-values changes what is missing', async () => {
    const r = await run('schema', '--data', PENGUINS, '--json', '--na-values', 'NA,-');
    expect(r.code, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout) as DataSchema;
    expect(printed).toEqual(await inferSchema(PENGUINS, { naValues: ['NA', '-'] }));
    expect(printed.target).toBeNull();
    expect(printed.naValues).toEqual(['', 'NA', '-']);
    expect(printed.columns.find((c) => c.name === 'sex')).toMatchObject({ kind: 'categorical', missing: 11 });
  });

  it('--out writes the JSON (read back by train --schema unchanged) and says where', async () => {
    const out = join(dir, 'penguins.schema.json');
    const r = await run('schema', '--data', PENGUINS, '--target', 'species', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`schema written to ${out}\\n$`));
    const written = readFileSync(out, 'utf8');
    const j = await run('schema', '--data', PENGUINS, '--target', 'species', '--json');
    expect(written).toBe(j.stdout);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    // the round trip
    const resolved = await resolveSchema(PENGUINS, { schemaPath: out });
    expect(resolved.schema).toEqual(JSON.parse(written));
    expect(resolved.target).toBe('species');
    expect(resolved.features.map((f) => f.name)).toEqual([
      'island',
      'bill_length_mm',
      'bill_depth_mm',
      'flipper_length_mm',
      'body_mass_g',
      'sex',
      'year',
    ]);
  });

  it('--json with --out prints the JSON on stdout and where it went on stderr', async () => {
    const out = join(dir, 'both.json');
    const r = await run('schema', '--data', PENGUINS, '--json', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(out, 'utf8')));
    expect(r.stderr).toBe(`schema written to ${out}\n`);
  });

  it('--help lists every option', async () => {
    const r = await run('schema', '--help');
    expect(r.code).toBe(0);
    for (const flag of ['--data', '--target', '--na-values', '--out', '--json'])
      expect(r.stdout).toContain(flag);
  });
});

describe('segserve schema: bad input is one line and exit 2 (exit 1 when writing fails)', () => {
  const csv = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it.each([
    [
      'a target that is not a column',
      () => [PENGUINS, '--target', 'specie'],
      'SEGSERVE_ERR_SCHEMA',
      /"specie" is not a column \(columns: species, island/,
    ],
    ['an empty file', () => [csv('empty.csv', '')], 'SEGSERVE_ERR_CSV', /empty\.csv: the file is empty/],
    [
      'a duplicate column name',
      () => [csv('dup.csv', 'a,a\n1,2\n')],
      'SEGSERVE_ERR_CSV',
      /duplicate column name "a"/,
    ],
    [
      'a ragged row',
      () => [csv('ragged.csv', 'a,b\n1,2\n3\n')],
      'SEGSERVE_ERR_CSV',
      /ragged\.csv: line 3: 1 fields/,
    ],
    [
      'a missing file',
      () => [join(dir, 'nope.csv')],
      'SEGSERVE_ERR_INPUT_PATH',
      /cannot read .*nope\.csv: no such file/,
    ],
    ['an unknown option', () => [PENGUINS, '--bogus'], 'SEGSERVE_ERR_OPTION', /unknown option '--bogus'/],
  ] as const)('%s', async (_what, args, error, message) => {
    expectOneLineError(await run('schema', '--data', ...args()), error, message);
  });

  it('an --out in a missing folder fails before reading, exit 1', async () => {
    const r = await run('schema', '--data', PENGUINS, '--out', join(dir, 'missing', 'x.json'));
    expectOneLineError(r, 'SEGSERVE_ERR_IO', /cannot write .*x\.json: the folder does not exist/);
  });
});
