/**
 * The error catalogue (src/errors.ts) and its documentation (docs/errors.md) agree: every code is
 * listed with the same exit code, HTTP status, Seldon reason and gRPC status; every SEGSERVE_ERR_ code
 * the docs mention exists; every code is raised somewhere in src (or is marked reserved); and the
 * server's entries match the server's own tables (serve/errors.ts CATALOGUE, serve/grpc/status.ts)
 * until those are derived from the catalogue.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import {
  ERRORS,
  type ErrorCode,
  type ErrorEntry,
  errorEntry,
  SegserveError,
  usageError,
} from '../src/errors.js';
import { CATALOGUE } from '../src/serve/errors.js';
import { GRPC_STATUS, GrpcCode } from '../src/serve/grpc/status.js';
import { errorCode } from './helpers/cli.js';

const ROOT = join(import.meta.dirname, '..');
const CODES = Object.keys(ERRORS) as ErrorCode[];
const CODE = /SEGSERVE_ERR_[A-Z0-9_]+/g;

function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => join(e.parentPath, e.name));
}

/** The cells of the docs' tables whose first cell is a code: code → column header → cell text. */
function documented(markdown: string): Map<string, Map<string, string>> {
  const rows = new Map<string, Map<string, string>>();
  let header: string[] = [];
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) {
      header = [];
      continue;
    }
    const cells = line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((c) => c.trim());
    if (header.length === 0) {
      header = cells;
      continue;
    }
    const code = /^`(SEGSERVE_ERR_[A-Z0-9_]+)`$/.exec(cells[0] ?? '')?.[1];
    if (code === undefined) continue;
    const row = rows.get(code) ?? new Map<string, string>();
    header.forEach((h, i) => {
      if (i === 0) return;
      if (row.has(h)) throw new Error(`docs/errors.md lists ${code} twice with a "${h}" column`);
      row.set(h, cells[i] ?? '');
    });
    rows.set(code, row);
  }
  return rows;
}

/** The catalogue's values as the docs write them, by column header. */
function expectedCells(entry: ErrorEntry): Map<string, string> {
  const cells = new Map<string, string>();
  if (entry.exit !== undefined)
    cells.set('Exit', typeof entry.exit === 'number' ? `${entry.exit}` : entry.exit.join(', '));
  if (entry.status !== undefined) cells.set('HTTP', `${entry.status}`);
  if (entry.reason !== undefined) cells.set('Seldon reason', `\`${entry.reason}\``);
  if (entry.grpc !== undefined) cells.set('gRPC', `\`${entry.grpc}\``);
  return cells;
}

const docs = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
const table = documented(docs);

describe('the error catalogue and docs/errors.md', () => {
  it('codes are SEGSERVE_ERR_ names, each with an exit code or an HTTP status and a one-line description', () => {
    expect(CODES.length).toBeGreaterThan(10);
    for (const code of CODES) {
      const e = errorEntry(code);
      expect(code).toMatch(/^SEGSERVE_ERR_[A-Z0-9_]+$/);
      expect(e.exit !== undefined || e.status !== undefined, code).toBe(true);
      expect(e.description, code).toMatch(/^[^\n]{10,}$/);
      if (e.status !== undefined) {
        expect(e.status, code).toBeGreaterThanOrEqual(400);
        expect(e.reason, code).toMatch(/^MICROSERVICE_[A-Z_]+$/);
        expect(e.grpc, code).toBeDefined();
      }
    }
  });

  it.each(CODES)('%s is documented with the same exit code, status, reason and gRPC status', (code) => {
    const row = table.get(code);
    expect(row, `${code} is not in a table of docs/errors.md`).toBeDefined();
    const want = expectedCells(errorEntry(code));
    // every value the catalogue has is in the docs, and every such column the docs have is the catalogue's
    for (const [column, value] of want) expect(row?.get(column), `${code}: ${column}`).toBe(value);
    for (const column of ['Exit', 'HTTP', 'Seldon reason', 'gRPC']) {
      if (!want.has(column))
        expect(row?.has(column), `${code} has no ${column} in the catalogue`).toBe(false);
    }
    expect(row?.get('Meaning and what to do') ?? row?.get('Meaning'), code).toMatch(/\w{3}/);
  });

  it('every SEGSERVE_ERR_ code the docs mention is in the catalogue', () => {
    const known = new Set<string>(CODES);
    const pages = [...filesUnder(join(ROOT, 'docs'), '.md'), join(ROOT, 'README.md')];
    const unknown = pages.flatMap((page) =>
      [...readFileSync(page, 'utf8').matchAll(CODE)]
        .map((m) => m[0])
        .filter((c) => !known.has(c))
        .map((c) => `${relative(ROOT, page)}: ${c}`),
    );
    expect(unknown).toEqual([]);
    expect([...table.keys()].sort()).toEqual([...CODES].sort());
  });

  it('every code is raised somewhere in src, or is marked reserved', () => {
    const catalogue = readFileSync(join(ROOT, 'src', 'errors.ts'), 'utf8');
    const sources = filesUnder(join(ROOT, 'src'), '.ts')
      .filter((f) => relative(ROOT, f) !== join('src', 'errors.ts'))
      .map((f) => ({ path: relative(ROOT, f), text: readFileSync(f, 'utf8') }));
    const called = (name: string) => sources.some((s) => s.text.includes(`${name}(`));
    // The constructors of src/errors.ts that raise a code (`csvError` → SEGSERVE_ERR_CSV).
    const constructors = [...catalogue.matchAll(/^export function (\w+)\((.*?)^\}$/gms)].map((m) => ({
      name: m[1] as string,
      body: m[2] as string,
    }));
    const raised = (code: ErrorCode): boolean => {
      // As a string literal in code (not a mention in a comment)...
      if (sources.some((s) => s.text.includes(`'${code}'`))) return true;
      // ... through a constructor of src/errors.ts that is called ...
      if (constructors.some((c) => c.body.includes(`'${code}'`) && called(c.name))) return true;
      // ... or, for a server code, by its short name in src/serve ('BAD_DATA', serve/errors.ts's ServeErrorCode).
      const short = `'${code.slice('SEGSERVE_ERR_'.length)}'`;
      return (
        errorEntry(code).status !== undefined &&
        sources.some(
          (s) =>
            s.path.startsWith(join('src', 'serve')) &&
            s.path !== join('src', 'serve', 'errors.ts') &&
            s.text.includes(short),
        )
      );
    };
    expect(CODES.filter((code) => !errorEntry(code).reserved && !raised(code))).toEqual([]);
  });

  it("the server's tables agree with the catalogue (status, reason, gRPC status), code for code", () => {
    const server = CODES.filter((c) => errorEntry(c).status !== undefined);
    expect(server.map((c) => c.slice('SEGSERVE_ERR_'.length)).sort()).toEqual(Object.keys(CATALOGUE).sort());
    for (const [short, entry] of Object.entries(CATALOGUE)) {
      const e = errorEntry(`SEGSERVE_ERR_${short}` as ErrorCode);
      expect({ status: e.status, reason: e.reason }, short).toEqual({
        status: entry.status,
        reason: entry.reason,
      });
      const grpc = GRPC_STATUS[short as keyof typeof GRPC_STATUS];
      expect(e.grpc && GrpcCode[e.grpc], short).toBe(grpc);
    }
  });
});

describe('SegserveError', () => {
  it('takes its exit code and kind from its code', () => {
    const err = new SegserveError('x', 'SEGSERVE_ERR_CSV');
    expect([err.code, err.exitCode, err.kind]).toEqual(['SEGSERVE_ERR_CSV', 2, 'usage']);
    const io = new SegserveError('x', 'SEGSERVE_ERR_MODEL_FILE');
    expect([io.exitCode, io.kind]).toEqual([1, 'failure']);
    const drift = new SegserveError('x', 'SEGSERVE_ERR_DRIFT');
    expect([drift.exitCode, drift.kind]).toEqual([3, 'finding']);
    expect(usageError('x').code).toBe('SEGSERVE_ERR_OPTION');
    expect(usageError('x', 'SEGSERVE_ERR_SCHEMA').code).toBe('SEGSERVE_ERR_SCHEMA');
  });

  it('still accepts a bare kind, standing for a generic code of that exit status', () => {
    expect(new SegserveError('x', 'usage').code).toBe('SEGSERVE_ERR_OPTION');
    expect(new SegserveError('x', 'failure').code).toBe('SEGSERVE_ERR_IO');
    expect(new SegserveError('x', 'finding').code).toBe('SEGSERVE_ERR_DRIFT');
  });
});

describe('the CLI error line', () => {
  async function run(...args: string[]): Promise<{ code: number; stderr: string }> {
    const err: string[] = [];
    const write = process.stderr.write;
    const out = process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => err.push(String(chunk)) > 0) as typeof write;
    process.stdout.write = (() => true) as typeof out;
    process.exitCode = undefined;
    try {
      await main(['node', 'segserve', ...args]);
    } finally {
      process.stderr.write = write;
      process.stdout.write = out;
      process.stdout.removeAllListeners('error');
    }
    const code = Number(process.exitCode ?? 0);
    process.exitCode = undefined;
    return { code, stderr: err.join('') };
  }

  it("ends with the code in brackets; commander's own errors are SEGSERVE_ERR_OPTION", async () => {
    const r = await run('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^segserve: unknown command 'frobnicate' \[SEGSERVE_ERR_OPTION\]\n$/);
    expect(errorCode(r.stderr)).toBe('SEGSERVE_ERR_OPTION');
  });

  it('a missing input file is SEGSERVE_ERR_INPUT_PATH, exit 2', async () => {
    const r = await run('schema', '--data', join(ROOT, 'no-such-file.csv'));
    expect(errorCode(r.stderr)).toBe('SEGSERVE_ERR_INPUT_PATH');
    expect(r.code).toBe(2);
  });

  it('errorCode() reads the code from the one line, and nothing from other lines', () => {
    expect(errorCode('segserve: a: b [SEGSERVE_ERR_CSV]\n')).toBe('SEGSERVE_ERR_CSV');
    expect(errorCode('  at x\nsegserve: m [SEGSERVE_ERR_IO]\n')).toBe('SEGSERVE_ERR_IO');
    expect(errorCode('scored 4 rows\n')).toBeUndefined();
    expect(errorCode('segserve: no code here\n')).toBeUndefined();
  });
});
