import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeChunk, writeFileAtomic, writeTextsAtomic } from '../../src/data/atomic.js';

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

describe('writeTextsAtomic', () => {
  it('writes a text given in pieces byte for byte, across batch edges, multi-byte characters and huge pieces', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'segserve-atomic-'));
    const path = join(dir, 'model.json');
    // Pieces that straddle the 1 MiB batch: ASCII, 2- and 3-byte UTF-8, a surrogate pair, one piece
    // larger than a batch, then many small ones.
    const pieces = [
      'a'.repeat((1 << 20) - 3),
      'é€',
      '😀'.repeat(10),
      'b'.repeat(3 << 20),
      ...Array.from({ length: 5000 }, (_, i) => `,${i}€`),
    ];
    await writeTextsAtomic([
      { path, text: pieces },
      { path: join(dir, 'run.json'), text: '{}\n' },
    ]);
    // Compared by digest: a deep equality of 5 MB is slow to run and useless to print.
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(sha(readFileSync(path))).toBe(sha(Buffer.from(pieces.join(''), 'utf8')));
    expect(readFileSync(join(dir, 'run.json'), 'utf8')).toBe('{}\n');
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'run.json']);
  });
});
