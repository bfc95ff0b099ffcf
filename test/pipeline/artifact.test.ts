import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Artifact,
  artifactDigest,
  artifactJsonChunks,
  buildArtifact,
  loadArtifact,
  loadModel,
  parseArtifact,
  saveArtifact,
  serializeArtifact,
  serializeArtifactChunks,
} from '../../src/pipeline/artifact.js';
import { artifactJsonSchema } from '../../src/pipeline/artifact-schema.js';
import { tinyModel } from './fixture.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const dir = mkdtempSync(join(tmpdir(), 'segserve-artifact-'));
const { model, artifact } = tinyModel();
const rows = [
  [34, 100, 1, 2],
  [70, 300, 0, 6],
  [20, 40, 0, 0],
];

/** A changed copy whose digest is recomputed, so that the structural checks are what refuses it. */
function tampered(change: (a: Artifact) => void): Artifact {
  const copy = structuredClone(artifact);
  change(copy);
  copy.digest = artifactDigest(copy);
  return copy;
}

describe('model artifact', () => {
  it('round-trips through a file: same predictions, same bytes when saved again', async () => {
    const path = join(dir, 'model.json');
    await saveArtifact(path, artifact);
    const loaded = await loadArtifact(path);
    expect(loaded.model.predictProba(rows)).toEqual(model.predictProba(rows));
    expect(loaded.model.features).toEqual(model.features);
    const again = join(dir, 'again.json');
    await saveArtifact(again, loaded.artifact);
    expect(readFileSync(again)).toEqual(readFileSync(path));
  });

  it('serves probabilities that sum to 1 and predictions that are classes', async () => {
    const m = await loadModel(join(dir, 'model.json'));
    for (const p of m.predictProba(rows)) expect(p.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    for (const c of m.predict(rows)) expect([0, 1, 2]).toContain(c);
  });

  it('refuses a truncated file', async () => {
    const path = join(dir, 'truncated.json');
    const text = readFileSync(join(dir, 'model.json'), 'utf8');
    writeFileSync(path, text.slice(0, text.length / 2));
    await expect(loadModel(path)).rejects.toMatchObject({
      code: 'SEGSERVE_ERR_MODEL_FILE',
      message: expect.stringContaining(`${path}: not valid JSON, the file may be truncated`),
    });
  });

  it('streams exactly the text JSON.stringify writes, one piece per tree, and hashes that text', () => {
    const big = structuredClone(artifact);
    big.forest.trees = [...big.forest.trees, ...big.forest.trees, ...big.forest.trees];
    const pieces = [...serializeArtifactChunks(big)];
    expect(pieces.join('')).toBe(serializeArtifact(big));
    expect(pieces.join('')).toBe(`${JSON.stringify(big)}\n`);
    expect(pieces.length).toBeGreaterThan(big.forest.trees.length);
    // A freshly built artifact's trees are views of the fitted trees, written from their typed arrays.
    expect([...serializeArtifactChunks(artifact)].join('')).toBe(`${JSON.stringify(artifact)}\n`);
    const withInf = buildArtifact(model, artifact.params, artifact.training);
    const t0 = model.forest.trees[0];
    const split = t0 ? Array.from(t0.feature).findIndex((f) => f >= 0) : -1;
    expect(split).toBeGreaterThanOrEqual(0);
    const saved = t0?.threshold[split] as number;
    (t0 as { threshold: Float64Array }).threshold[split] = Number.POSITIVE_INFINITY;
    // Numbers at the edges of the serialiser's integer path and beyond it, as JSON writes them.
    const value = t0?.value as Float64Array;
    const savedValue = value.slice();
    const edges = [-0, 0.5, 2147483647, 2147483648, -2147483647, -2147483648, 1e21, 5e-324, 1 / 3, 10, 99];
    value.set(edges.slice(0, value.length));
    try {
      const text = [...serializeArtifactChunks(withInf)].join('');
      expect(text).toBe(`${JSON.stringify(withInf)}\n`);
      expect(text).toContain(String(Number.MAX_VALUE));
      expect(text).toContain(JSON.stringify(edges.slice(0, Math.min(value.length, 6))).slice(1, -1));
    } finally {
      (t0 as { threshold: Float64Array }).threshold[split] = saved;
      value.set(savedValue);
    }
    // Keys JSON leaves out stay out; a forest that is not just trees is written whole.
    const odd = { a: undefined, forest: { trees: [1, undefined], more: 1 }, b: [undefined], c: 'x' };
    expect([...artifactJsonChunks(odd)].join('')).toBe(JSON.stringify(odd));
    const treesOnly = { forest: { trees: [{ f: [1] }, undefined] } };
    expect([...artifactJsonChunks(treesOnly)].join('')).toBe(JSON.stringify(treesOnly));
    expect([...artifactJsonChunks({})].join('')).toBe('{}');
    const { digest: _d, ...rest } = big;
    const expected = createHash('sha256').update(JSON.stringify(rest)).digest('hex');
    expect(artifactDigest(rest)).toBe(`sha256:${expected}`);
  });

  it('carries a content digest of everything else, checked on load', async () => {
    expect(artifact.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const { digest, ...rest } = artifact;
    expect(artifactDigest(rest)).toBe(digest);
    expect((await loadArtifact(join(dir, 'model.json'))).version).toBe(digest);
  });

  it.each<[string, (path: string) => void, string]>([
    ['a directory', (p) => mkdirSync(p), 'it is a directory'],
    ['a named pipe', (p) => execFileSync('mkfifo', [p]), 'it is a named pipe (FIFO), not a regular file'],
    ['an empty file', (p) => writeFileSync(p, ''), 'the file is empty'],
    ['a symlink loop', (p) => symlinkSync(p, p), 'symlink loop'],
  ])('refuses %s in one line naming the path', async (_, make, reason) => {
    const path = join(dir, `odd-${reason.replace(/\W+/g, '-')}`);
    make(path);
    const err = await loadModel(path).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain(path);
    expect(err?.message).toContain(reason);
    expect(err?.message).not.toContain('\n');
  });

  it.skipIf(process.getuid?.() === 0)('refuses an unreadable file', async () => {
    const path = join(dir, 'secret.json');
    writeFileSync(path, '{}');
    chmodSync(path, 0);
    await expect(loadModel(path)).rejects.toMatchObject({
      code: 'SEGSERVE_ERR_MODEL_FILE',
      message: expect.stringContaining('permission denied'),
    });
  });

  it('loads a version 1 file of an earlier segserve and serves the same probabilities', async () => {
    const v1 = await loadArtifact(join(FIXTURES, 'model-v1.json'));
    expect(v1.artifact.format.version).toBe(2);
    expect(v1.model.classes).toEqual([0, 1, 2]);
    // The recorded answers of that model (computed by segserve 0.1.0 when the fixture was written).
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'model-v1.expected.json'), 'utf8')) as {
      rows: number[][];
      proba: number[][];
    };
    expect(v1.model.predictProba(expected.rows)).toEqual(expected.proba);
    // It never saw a missing value: a null is refused, as version 1 did.
    expect(() => v1.model.predictProba([[34, null, 1, 2]])).toThrow('column "income"');
  });

  it('the committed schema/model.schema.json is what the source generates', () => {
    const committed = readFileSync(
      join(import.meta.dirname, '..', '..', 'schema', 'model.schema.json'),
      'utf8',
    );
    expect(committed).toBe(artifactJsonSchema());
  });

  it('refuses a missing file, naming it', async () => {
    await expect(loadModel(join(dir, 'nope.json'))).rejects.toMatchObject({
      code: 'SEGSERVE_ERR_MODEL_FILE',
      message: expect.stringContaining(`cannot read model ${join(dir, 'nope.json')}: no such file`),
    });
  });

  it.each<[string, unknown, string]>([
    ['foreign JSON', { hello: 'world' }, 'not a segserve model'],
    ['an array', [1, 2], 'not a segserve model'],
    [
      'a newer version',
      tampered((a) => Object.assign(a.format, { version: 3 })),
      'model format version 3 is not supported',
    ],
    [
      'a missing key',
      tampered((a) => Reflect.deleteProperty(a.schema, 'classes')),
      "must have required property 'classes'",
    ],
    [
      'a changed threshold (digest)',
      (() => {
        const copy = structuredClone(artifact);
        const t = copy.forest.trees[0];
        if (t) t.threshold[0] = (t.threshold[0] ?? 0) + 1;
        return copy;
      })(),
      'digest mismatch',
    ],
    [
      'implausible leaf counts',
      tampered((a) => {
        const t = a.forest.trees[0];
        if (!t) return;
        const leaf = t.feature.indexOf(-1);
        t.value.fill(1e308, leaf * 3, leaf * 3 + 3);
      }),
      'implausible class counts',
    ],
    [
      'unsorted classes',
      tampered((a) => {
        a.schema.classes = [0, 2, 1];
      }),
      'must be sorted, distinct and of one type',
    ],
    [
      'a missing-direction array of another length',
      tampered((a) => {
        a.forest.trees[0]?.missingLeft.pop();
      }),
      'forest.trees[0].missingLeft has',
    ],
    ['an unknown key', tampered((a) => Object.assign(a, { extra: 1 })), '("extra")'],
    [
      'a bad param',
      tampered((a) => Object.assign(a.params, { max_depth: 0 })),
      '/params/max_depth must be >= 1',
    ],
    [
      'a child index out of range',
      tampered((a) => {
        const t = a.forest.trees[0];
        if (t) t.left[0] = 10_000;
      }),
      'forest.trees[0]: node 0 has child index 10000',
    ],
    [
      'a cycle',
      tampered((a) => {
        const t = a.forest.trees[0];
        if (t) t.right[0] = 0;
      }),
      'forest.trees[0]: node 0 has child index 0',
    ],
    [
      'an unknown feature index',
      tampered((a) => {
        const t = a.forest.trees[1];
        if (t) t.feature[0] = 7;
      }),
      'forest.trees[1]: node 0 tests feature 7, but the model has 4 features',
    ],
    [
      'a leaf without counts',
      tampered((a) => {
        const t = a.forest.trees[0];
        if (!t) return;
        const leaf = t.feature.indexOf(-1);
        t.value.fill(0, leaf * 3, leaf * 3 + 3);
      }),
      'has no class counts, so its fractions cannot sum to 1',
    ],
    [
      'a negative count',
      tampered((a) => {
        const t = a.forest.trees[0];
        if (t) t.value[0] = -1;
      }),
      'must be >= 0',
    ],
    [
      'arrays of different lengths',
      tampered((a) => {
        a.forest.trees[2]?.threshold.pop();
      }),
      'forest.trees[2].threshold has',
    ],
    [
      'unsorted categories',
      tampered((a) => {
        const f = a.schema.features[3];
        if (f) f.categories = [0, 2, 1, 3, 4, 5, 6];
      }),
      'features[3].categories must be sorted, distinct and of one type',
    ],
  ])('refuses %s', (_, json, message) => {
    expect(() => parseArtifact(json, 'm.json')).toThrow(message);
    expect(() => parseArtifact(json, 'm.json')).toThrow(
      expect.objectContaining({ code: 'SEGSERVE_ERR_MODEL_FILE' }) as unknown as Error,
    );
  });

  it('a failed save leaves the previous file untouched', async () => {
    const path = join(dir, 'keep.json');
    await saveArtifact(path, artifact);
    const before = readFileSync(path);
    const circular = structuredClone(artifact) as Artifact & { self?: unknown };
    circular.self = circular;
    await expect(saveArtifact(path, circular)).rejects.toThrow(/circular/);
    expect(readFileSync(path)).toEqual(before);
  });
});
