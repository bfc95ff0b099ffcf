/**
 * `segserve simulate` through the built CLI, as a user runs it: exit codes, one-line errors, nothing
 * written on failure, and the outputs (file, stdout, --json, --print-spec).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SEED } from '../../src/defaults.js';
import { type CliErrorCode, ERRORS } from '../../src/errors.js';
import { customersSchema } from '../../src/simulate/simulate.js';
import { DEFAULT_SPEC, parseSpec } from '../../src/simulate/spec.js';
import { VERSION } from '../../src/version.js';
import { type CliResult, errorCode, runCli } from '../helpers/cli.js';
import { simulateCsv } from '../simulate/stats.js';

let root: string;
let serial = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'segserve-cli-simulate-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh empty folder, with `files` (name → content) written into it. */
async function workdir(files: Record<string, string> = {}): Promise<string> {
  const dir = join(root, `case-${++serial}`);
  await mkdir(dir);
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return dir;
}

async function listing(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/**
 * The error `error` (its code on the line, its exit code), nothing on stdout, one `segserve: ...` line on
 * stderr matching `message`, no stack.
 */
function expectOneLineError(r: CliResult, error: CliErrorCode, message: RegExp): void {
  expect(errorCode(r.stderr), r.stderr).toBe(error);
  expect(r.code, r.stderr).toBe(ERRORS[error].exit);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^segserve: [^\n]+\n$/);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

const spec = (value: unknown) => ({ 'spec.json': JSON.stringify(value) });

describe('segserve --help / --version', () => {
  it('--help lists the simulate command and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: segserve/);
    expect(r.stdout).toMatch(/^\s+simulate\b/m);
    expect(r.stderr).toBe('');
  });

  it('simulate --help lists every option and exits 0', async () => {
    const r = await runCli(['simulate', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--rows', '--seed', '--out', '--spec', '--print-spec', '--json']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('--version prints the package version and exits 0', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    expect(VERSION).toBe(pkg.version);
  });
});

interface BadCase {
  name: string;
  args: string[];
  files?: Record<string, string>;
  /** Folders to create in the working directory. */
  dirs?: string[];
  /** The catalogue code; the exit code is its entry's. */
  error: CliErrorCode;
  message: RegExp;
}

const BAD_INPUTS: BadCase[] = [
  // bad options: exit 2, checked with an explicit --out
  {
    name: '--rows 0',
    args: ['--rows', '0'],
    error: 'SEGSERVE_ERR_OPTION',
    message: /--rows.*'0'.*positive integer/,
  },
  {
    name: '--rows abc',
    args: ['--rows', 'abc'],
    error: 'SEGSERVE_ERR_OPTION',
    message: /--rows.*'abc'.*positive integer/,
  },
  {
    name: '--rows 1.5',
    args: ['--rows', '1.5'],
    error: 'SEGSERVE_ERR_OPTION',
    message: /--rows.*'1\.5'.*positive integer/,
  },
  {
    name: '--seed -1',
    args: ['--seed', '-1'],
    error: 'SEGSERVE_ERR_OPTION',
    message: /--seed.*'-1'.*integer in \[0, 4294967295\]/,
  },
  {
    name: '--seed 4294967296',
    args: ['--seed', '4294967296'],
    error: 'SEGSERVE_ERR_OPTION',
    message: /--seed.*'4294967296'.*integer in \[0, 4294967295\]/,
  },
  { name: '--seed x', args: ['--seed', 'x'], error: 'SEGSERVE_ERR_OPTION', message: /--seed.*'x'.*integer/ },
  {
    name: 'an unknown option',
    args: ['--bogus'],
    error: 'SEGSERVE_ERR_OPTION',
    message: /unknown option '--bogus'/,
  },
  // unwritable --out: exit 1, naming the path
  {
    name: '--out in a missing folder',
    args: ['--out', 'missing/out.csv'],
    error: 'SEGSERVE_ERR_IO',
    message: /cannot write missing\/out\.csv: the folder does not exist/,
  },
  {
    name: '--out that is a directory',
    args: ['--out', 'adir'],
    dirs: ['adir'],
    error: 'SEGSERVE_ERR_IO',
    message: /cannot write adir: it is a directory/,
  },
  // bad --spec: exit 2, naming the file and the key
  {
    name: '--spec that does not exist',
    args: ['--spec', 'nope.json'],
    error: 'SEGSERVE_ERR_INPUT_PATH',
    message: /cannot read spec file nope\.json: no such file/,
  },
  {
    name: '--spec with invalid JSON',
    args: ['--spec', 'spec.json'],
    files: { 'spec.json': '{"income": {"sd": 10' },
    error: 'SEGSERVE_ERR_CONFIG_FILE',
    message: /spec\.json: invalid JSON/,
  },
  {
    name: '--spec with an unknown key',
    args: ['--spec', 'spec.json'],
    files: spec({ income: { sd: 10, mean: 3 } }),
    error: 'SEGSERVE_ERR_CONFIG_FILE',
    message: /spec\.json: unknown key "income\.mean"/,
  },
  {
    name: '--spec with a negative probability',
    args: ['--spec', 'spec.json'],
    files: spec({ response: { older: { ifEvent: -0.1 } } }),
    error: 'SEGSERVE_ERR_CONFIG_FILE',
    message: /spec\.json: "response\.older\.ifEvent" must be >= 0/,
  },
  {
    name: '--spec with band probabilities not summing to 1',
    args: ['--spec', 'spec.json'],
    files: spec({
      ageBands: [
        { probability: 0.5, min: 16, max: 20 },
        { probability: 0.4, min: 30, max: 40 },
      ],
    }),
    error: 'SEGSERVE_ERR_CONFIG_FILE',
    message: /spec\.json: "ageBands" probabilities sum to 0\.9, expected 1/,
  },
  {
    name: '--spec with an empty band',
    args: ['--spec', 'spec.json'],
    files: spec({ ageBands: [{ probability: 1, min: 40, max: 30 }] }),
    error: 'SEGSERVE_ERR_CONFIG_FILE',
    message: /spec\.json: "ageBands\[0\]" is empty/,
  },
  {
    name: '--spec with a wrong type',
    args: ['--spec', 'spec.json'],
    files: spec({ income: { sd: 'wide' } }),
    error: 'SEGSERVE_ERR_CONFIG_FILE',
    message: /spec\.json: "income\.sd" must be number/,
  },
];

describe.concurrent('segserve simulate: bad input is one line, a non-zero exit and nothing written', () => {
  // Option errors are checked with an explicit --out; spec errors with the default one (data/customers.csv,
  // whose folder would be created just after the spec is read): in both cases nothing may appear.
  it.each(BAD_INPUTS)('$name', async ({ args, files = {}, dirs = [], error, message }) => {
    const cwd = await workdir(files);
    for (const d of dirs) await mkdir(join(cwd, d));
    const before = await listing(cwd);
    const out = args.includes('--out') || args[0] === '--spec' ? [] : ['--out', 'out.csv'];
    expectOneLineError(await runCli(['simulate', '--rows', '50', ...out, ...args], { cwd }), error, message);
    expect(await listing(cwd)).toEqual(before); // no out.csv, no data/, no temporary file
    for (const d of dirs) expect(await listing(join(cwd, d))).toEqual([]);
  });

  it('an unknown command exits 2 with one line', async () => {
    expectOneLineError(await runCli(['frobnicate']), 'SEGSERVE_ERR_OPTION', /unknown command 'frobnicate'/);
  });

  it('SEGSERVE_DEBUG=1 adds the stack trace', async () => {
    const cwd = await workdir(spec({ nope: 1 }));
    const r = await runCli(['simulate', '--spec', 'spec.json'], { cwd, env: { SEGSERVE_DEBUG: '1' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^\s+at /m);
    expect(r.stderr).toMatch(/^segserve: spec\.json: unknown key "nope" \[SEGSERVE_ERR_CONFIG_FILE\]$/m);
    expect(errorCode(r.stderr)).toBe('SEGSERVE_ERR_CONFIG_FILE');
  });
});

describe('segserve simulate: outputs', () => {
  it('writes 5000 rows into data/customers.csv, relative to the working directory, by default', async () => {
    const cwd = await workdir();
    const r = await runCli(['simulate'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^simulated 5,000 rows \(seed 20200413\) into data\/customers\.csv \(schema data\/customers\.schema\.json\) in [\d.]+ s\n$/,
    );
    expect(await listing(cwd)).toEqual(['data']);
    expect(await listing(join(cwd, 'data'))).toEqual(['customers.csv', 'customers.schema.json']);
    const csv = await readFile(join(cwd, 'data', 'customers.csv'), 'utf8');
    expect(csv).toBe(await simulateCsv(DEFAULT_SPEC, DEFAULT_SEED, 5000)); // the library's bytes
  });

  it("writes the post's schema beside the CSV: target segment, class ignored, response and events categorical", async () => {
    const cwd = await workdir();
    const r = await runCli(['simulate', '--rows', '30', '--out', 'my.data.csv'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(await listing(cwd)).toEqual(['my.data.csv', 'my.data.schema.json']);
    const schema = JSON.parse(await readFile(join(cwd, 'my.data.schema.json'), 'utf8')) as unknown;
    expect(schema).toEqual({
      target: 'segment',
      columns: [
        { name: 'age', role: 'feature', kind: 'numeric' },
        { name: 'income', role: 'feature', kind: 'numeric' },
        { name: 'class', role: 'ignored', kind: 'numeric' },
        { name: 'response', role: 'feature', kind: 'categorical' },
        { name: 'segment', role: 'target', kind: 'categorical' },
        { name: 'events', role: 'feature', kind: 'categorical' },
      ],
    });
    expect(schema).toEqual(customersSchema());
  });

  it('a file without the .csv extension gets <file>.schema.json', async () => {
    const cwd = await workdir();
    const r = await runCli(['simulate', '--rows', '3', '--out', 'rows.txt'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(await listing(cwd)).toEqual(['rows.txt', 'rows.txt.schema.json']);
  });

  it('--out - writes the CSV to stdout and nothing to disk', async () => {
    const cwd = await workdir();
    // 100,000 rows span several write chunks, whose memory is reused once written
    const r = await runCli(['simulate', '--rows', '100000', '--seed', '7', '--out', '-'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(await simulateCsv(DEFAULT_SPEC, 7, 100_000));
    expect(r.stderr).toMatch(/simulated 100,000 rows \(seed 7\) into stdout/);
    expect(await listing(cwd)).toEqual([]);
  });

  it('--json prints one JSON line with rows, seed, path and seconds', async () => {
    const cwd = await workdir();
    const r = await runCli(['simulate', '--rows', '123', '--seed', '0', '--out', 'x.csv', '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const summary = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(summary).toEqual({
      rows: 123,
      seed: 0,
      path: 'x.csv',
      schema: 'x.schema.json',
      seconds: expect.any(Number),
    });
    expect(summary.seconds).toBeGreaterThanOrEqual(0);
    expect(await readFile(join(cwd, 'x.csv'), 'utf8')).toBe(await simulateCsv(DEFAULT_SPEC, 0, 123));
  });

  it('accepts the edges: --rows 1, --seed 0 and --seed 4294967295', async () => {
    const cwd = await workdir();
    for (const s of ['0', '4294967295']) {
      const r = await runCli(['simulate', '--rows', '1', '--seed', s, '--out', '-'], { cwd });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n')).toHaveLength(3);
    }
  });

  it('--print-spec prints the default spec as JSON, which round-trips through --spec', async () => {
    const cwd = await workdir();
    const printed = await runCli(['simulate', '--print-spec'], { cwd });
    expect(printed.code, printed.stderr).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual(DEFAULT_SPEC);
    await writeFile(join(cwd, 'printed.json'), printed.stdout);
    const viaSpec = await runCli(
      ['simulate', '--rows', '2000', '--seed', '11', '--out', '-', '--spec', 'printed.json'],
      { cwd },
    );
    expect(viaSpec.code, viaSpec.stderr).toBe(0);
    expect(viaSpec.stdout).toBe(await simulateCsv(DEFAULT_SPEC, 11, 2000));
    expect(await listing(cwd)).toEqual(['printed.json']); // --print-spec writes no data
  });

  it('--print-spec with --spec prints the merged spec, which reproduces the override', async () => {
    const cwd = await workdir(spec({ income: { sd: 0 } }));
    const printed = await runCli(['simulate', '--spec', 'spec.json', '--print-spec'], { cwd });
    expect(printed.code, printed.stderr).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual({ ...DEFAULT_SPEC, income: { offset: 20, sd: 0 } });
    await writeFile(join(cwd, 'printed.json'), printed.stdout);
    const a = await runCli(['simulate', '--rows', '500', '--out', '-', '--spec', 'printed.json'], { cwd });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(await simulateCsv(parseSpec({ income: { sd: 0 } }), DEFAULT_SEED, 500));
    expect(a.stdout).not.toBe(await simulateCsv(DEFAULT_SPEC, DEFAULT_SEED, 500));
  });
});

describe('segserve simulate: an existing file is replaced atomically, only on success', () => {
  const OLD = 'old,contents\n1,2\n';
  const OLD_SCHEMA = '{"target": "contents"}\n';

  it.each([
    ['a bad spec', ['--spec', 'spec.json'], 'SEGSERVE_ERR_CONFIG_FILE'],
    ['a bad --rows', ['--rows', '0'], 'SEGSERVE_ERR_OPTION'],
  ] as const)('a run failing on %s leaves the old files byte-identical', async (_what, args, error) => {
    const cwd = await workdir({
      'out.csv': OLD,
      'out.schema.json': OLD_SCHEMA,
      ...spec({ income: { sd: -1 } }),
    });
    const r = await runCli(['simulate', '--out', 'out.csv', ...args], { cwd });
    expect(errorCode(r.stderr), r.stderr).toBe(error);
    expect(r.code, r.stderr).toBe(2);
    expect(await readFile(join(cwd, 'out.csv'), 'utf8')).toBe(OLD);
    expect(await readFile(join(cwd, 'out.schema.json'), 'utf8')).toBe(OLD_SCHEMA);
    expect(await listing(cwd)).toEqual(['out.csv', 'out.schema.json', 'spec.json']);
  });

  it('a run whose CSV cannot be written writes no schema either', async () => {
    const cwd = await workdir();
    await mkdir(join(cwd, 'out.csv')); // a directory where the CSV should go
    const r = await runCli(['simulate', '--rows', '10', '--out', 'out.csv'], { cwd });
    expect(r.code).toBe(1);
    expect(errorCode(r.stderr)).toBe('SEGSERVE_ERR_IO');
    expect(await listing(cwd)).toEqual(['out.csv']);
  });

  it('a successful run replaces the old files and leaves no temporary file', async () => {
    const cwd = await workdir({ 'out.csv': OLD, 'out.schema.json': OLD_SCHEMA });
    const r = await runCli(['simulate', '--rows', '40', '--out', 'out.csv'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(cwd, 'out.csv'), 'utf8')).toBe(
      await simulateCsv(DEFAULT_SPEC, DEFAULT_SEED, 40),
    );
    expect(JSON.parse(await readFile(join(cwd, 'out.schema.json'), 'utf8'))).toEqual(customersSchema());
    expect(await listing(cwd)).toEqual(['out.csv', 'out.schema.json']);
  });
});
