import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTable } from '../../src/data/csv.js';
import { SegserveError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'segserve-csv-'));
let n = 0;
function file(text: string): string {
  const path = join(dir, `t${n++}.csv`);
  writeFileSync(path, text);
  return path;
}

describe('readTable', () => {
  it('finds columns by header name in any order, ignores extra columns, and hashes the bytes', async () => {
    const text = 'x,income,age\n9,100.5,34\n9,-2e1,35\n';
    const path = file(text);
    const t = await readTable(path, ['age', 'income']);
    expect(t.nRows).toBe(2);
    expect(t.names).toEqual(['age', 'income']);
    expect(Array.from(t.columns[0] ?? [])).toEqual([34, 35]);
    expect(Array.from(t.columns[1] ?? [])).toEqual([100.5, -20]);
    expect(t.sha256).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it('accepts a BOM, CRLF line ends, quoted cells and blank lines', async () => {
    const t = await readTable(file('\uFEFFage,income\r\n\r\n"1",2\r\n3,"4.5"\r\n'), ['age', 'income']);
    expect(Array.from(t.columns[1] ?? [])).toEqual([2, 4.5]);
  });

  it('grows past its first buffer', async () => {
    const rows = Array.from({ length: 40_000 }, (_, i) => `${i},${i / 2}`).join('\n');
    const t = await readTable(file(`a,b\n${rows}\n`), ['b', 'a']);
    expect(t.nRows).toBe(40_000);
    expect(t.columns[0]?.[39_999]).toBe(19_999.5);
  });

  it.each([
    ['', 'the file is empty (expected a header naming age, income)'],
    ['age,income\n', 'no data rows after the header'],
    ['age,x\n1,2\n', 'missing column "income" in the header (found: age, x)'],
    ['x\n1\n', 'missing columns "age", "income" in the header (found: x)'],
    ['age,income\n1,2\n3,abc\n', 'line 3, column "income": "abc", expected a finite number'],
    ['age,income\n1,2\n\n3,\n', 'line 4, column "income": empty cell, expected a finite number'],
    ['age,income\n1,NaN\n', 'line 2, column "income": "NaN", expected a finite number'],
    ['age,income\n1,Infinity\n', 'line 2, column "income": "Infinity", expected a finite number'],
    ['age,income\n1,0x10\n', 'line 2, column "income": "0x10", expected a finite number'],
    ['age,income\n1.5,2\n', 'line 2, column "age": "1.5", expected an integer'],
    ['age,income\n1,2\n3\n', 'line 3: 1 fields, expected as many as the header'],
  ])('refuses %j naming the file, line and column', async (text, message) => {
    const path = file(text);
    const err = await readTable(path, ['age', 'income'], { integer: ['age'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SegserveError);
    expect((err as SegserveError).code).toBe('SEGSERVE_ERR_CSV');
    expect((err as SegserveError).kind).toBe('usage');
    expect((err as Error).message).toBe(`${path}: ${message}`);
  });

  it('names a missing file and a directory', async () => {
    const missing = join(dir, 'nope.csv');
    await expect(readTable(missing, ['a'])).rejects.toMatchObject({
      code: 'SEGSERVE_ERR_INPUT_PATH',
      message: `cannot read ${missing}: no such file`,
    });
    await expect(readTable(dir, ['a'])).rejects.toMatchObject({
      code: 'SEGSERVE_ERR_INPUT_PATH',
      message: `cannot read ${dir}: it is a directory`,
    });
  });
});
