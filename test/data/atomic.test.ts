import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeChunk, writeFileAtomic } from '../../src/data/atomic.js';

describe('writeFileAtomic', () => {
  it('replaces the target only when the producer succeeds, leaving no temp file either way', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'segserve-atomic-'));
    const path = join(dir, 'out.csv');
    writeFileSync(path, 'old\n');
    const failing = writeFileAtomic(path, async (out) => {
      await writeChunk(out, 'half of the new con');
      throw new Error('disk on fire');
    });
    await expect(failing).rejects.toThrow('cannot write');
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['out.csv']);

    await writeFileAtomic(path, async (out) => {
      await writeChunk(out, 'new\n');
    });
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    expect(readdirSync(dir)).toEqual(['out.csv']);
  });

  it('names the path and the reason when the folder is missing', async () => {
    await expect(writeFileAtomic('/nonexistent-dir/x.csv', async () => {})).rejects.toThrow(
      'cannot write /nonexistent-dir/x.csv: the folder does not exist',
    );
  });
});
