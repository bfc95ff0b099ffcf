/**
 * The versioned JSON model artifact (docs/model-format.md; its type and JSON Schema come from one
 * TypeBox definition in artifact-schema.ts): build it from a fitted model, save it atomically with a
 * content digest, and load it back only after checking the file, the digest, the schema and the
 * structure of every tree, so a truncated, tampered or implausible file never serves. Format version 1
 * files (written before the schema existed) still load and serve the same probabilities.
 */
import { createHash } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Ajv, type ValidateFunction } from 'ajv';
import { writeTextAtomic } from '../data/atomic.js';
import type { ModelSchema } from '../data/schema.js';
import { SegserveError } from '../errors.js';
import { Forest } from '../forest/forest.js';
import type { Tree } from '../forest/types.js';
import { VERSION } from '../version.js';
import {
  type Artifact,
  ArtifactT,
  FORMAT_NAME,
  FORMAT_VERSION,
  type TrainingFacts,
  type TreeJson,
} from './artifact-schema.js';
import { validateReference } from './drift.js';
import { ForestModel } from './model.js';
import type { SkParams } from './params.js';

export type {
  Artifact,
  CandidateResult,
  Evaluation,
  SearchFacts,
  TrainingFacts,
  TreeJson,
} from './artifact-schema.js';
export { FORMAT_NAME, FORMAT_VERSION };

/** The largest model file segserve reads (a forest of 1,000 deep trees is a few hundred MB). */
export const MAX_MODEL_BYTES = 1024 ** 3;

/** The artifact without its digest: what the digest covers, serialised by JSON.stringify. */
type Undigested = Omit<Artifact, 'digest'>;

/**
 * JSON.stringify(a), compact, in pieces: each tree of `forest.trees` is one piece, and the rest of the
 * object the pieces around them. Joined, the pieces are exactly JSON.stringify's text (same key order,
 * keys whose value JSON leaves out are left out), but no piece is larger than one tree: a big forest
 * is hashed and written without ever being one string.
 */
export function* artifactJsonChunks(a: object): Generator<string> {
  let sep = '{';
  for (const [key, value] of Object.entries(a)) {
    const trees = key === 'forest' ? treesOnly(value) : undefined;
    if (trees) {
      yield `${sep}${JSON.stringify(key)}:{"trees":[`;
      for (let i = 0; i < trees.length; i++) {
        const tree = trees[i];
        const fitted = typeof tree === 'object' && tree !== null ? viewed.get(tree) : undefined;
        if (i > 0) yield ',';
        if (fitted) yield* treeViewChunks(fitted);
        // A tree JSON leaves out (undefined, a function) is null in an array, as JSON.stringify writes it.
        else yield JSON.stringify(tree) ?? 'null';
      }
      yield ']}';
      sep = ',';
      continue;
    }
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) continue;
    yield `${sep}${JSON.stringify(key)}:${json}`;
    sep = ',';
  }
  yield sep === '{' ? '{}' : '}';
}

/** The trees of a `forest` value that is a plain `{ trees: [...] }` (else undefined: written whole). */
function treesOnly(value: unknown): readonly unknown[] | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  if ('toJSON' in value) return undefined;
  const keys = Object.keys(value);
  const trees = (value as { trees?: unknown }).trees;
  return keys.length === 1 && keys[0] === 'trees' && Array.isArray(trees) ? trees : undefined;
}

/** sha256 of the artifact's compact JSON without the digest key, as "sha256:<hex>". */
export function artifactDigest(a: Undigested): string {
  const { digest: _ignored, ...rest } = a as Artifact;
  const hash = createHash('sha256');
  for (const chunk of artifactJsonChunks(rest)) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

/** The fitted tree behind each tree view (the serialiser writes it from its typed arrays directly). */
const viewed = new WeakMap<object, Tree>();

/**
 * A tree of a fitted model as TreeJson, its arrays made from the tree's typed arrays when read (getters,
 * enumerable and in TreeJson's key order, so JSON.stringify and structuredClone see plain arrays). A
 * freshly trained artifact so holds no second, boxed copy of a big forest: its trees become JSON one at
 * a time as the artifact is hashed and written. JSON has no Infinity: the threshold of a split of
 * missing against present values (+Infinity) is written as the largest finite double, which every
 * finite value is <= as well, so the tree routes every row the same way.
 */
function treeView(t: Tree): TreeJson {
  const view: TreeJson = {
    get feature() {
      return Array.from(t.feature);
    },
    get threshold() {
      return Array.from(t.threshold, (v) => (v === Number.POSITIVE_INFINITY ? Number.MAX_VALUE : v));
    },
    get left() {
      return Array.from(t.left);
    },
    get right() {
      return Array.from(t.right);
    },
    get missingLeft() {
      return Array.from(t.missingLeft);
    },
    get value() {
      return Array.from(t.value);
    },
  };
  viewed.set(view, t);
  return view;
}

/** Bytes per piece when a tree is written from its typed arrays: a piece stays a small, young string. */
const TREE_PIECE = 32 * 1024;

/**
 * The JSON of a tree view, in pieces of about TREE_PIECE bytes, straight from the typed arrays: the
 * same text as JSON.stringify(view) (numbers as JSON writes them). Digits are formatted into one
 * reusable byte buffer (integers without any string; other numbers through Number#toString, which is
 * what JSON writes), so writing a big forest makes one flat string per piece and nothing else: hashing
 * and writing hundreds of MB of trees leave little garbage behind.
 */
function* treeViewChunks(t: Tree): Generator<string> {
  const fields: [string, ArrayLike<number>, boolean][] = [
    ['feature', t.feature, false],
    ['threshold', t.threshold, true],
    ['left', t.left, false],
    ['right', t.right, false],
    ['missingLeft', t.missingLeft, false],
    ['value', t.value, false],
  ];
  // Room for the longest number JSON writes (24 characters) and a comma beyond a full piece.
  const buf = Buffer.allocUnsafe(TREE_PIECE + 64);
  let n = 0;
  let sep = '{';
  for (const [key, a, finite] of fields) {
    n += buf.write(`${sep}"${key}":[`, n, 'latin1');
    for (let i = 0; i < a.length; i++) {
      if (i > 0) buf[n++] = 44; // ,
      const v = a[i] as number;
      if (Number.isInteger(v) && v > -2147483648 && v < 2147483648) n = writeInt(buf, n, v);
      else {
        const w = finite && v === Number.POSITIVE_INFINITY ? Number.MAX_VALUE : v;
        n += buf.write(JSON.stringify(w), n, 'latin1');
      }
      if (n >= TREE_PIECE) {
        yield buf.toString('latin1', 0, n);
        n = 0;
      }
    }
    buf[n++] = 93; // ]
    sep = ',';
  }
  buf[n++] = 125; // }
  yield buf.toString('latin1', 0, n);
}

/** Writes a 32-bit integer's decimal digits (as JSON writes it; -0 as 0) at `at`; returns the new end. */
function writeInt(buf: Buffer, at: number, v: number): number {
  let n = at;
  let x = v;
  if (x < 0) {
    buf[n++] = 45; // -
    x = -x;
  }
  let digits = 1;
  for (let p = 10; p <= x; p *= 10) digits++;
  n += digits;
  for (let i = n - 1; i >= n - digits; i--) {
    buf[i] = 48 + (x % 10);
    x = Math.floor(x / 10);
  }
  return n;
}

export function buildArtifact(model: ForestModel, params: SkParams, training: TrainingFacts): Artifact {
  const body: Undigested = {
    format: { name: FORMAT_NAME, version: FORMAT_VERSION },
    segserveVersion: VERSION,
    schema: structuredClone(model.schema),
    params: { ...params },
    forest: { trees: model.forest.trees.map(treeView) },
    training,
  };
  return { ...body, digest: artifactDigest(body) };
}

/** Serialises compactly (no indentation): the file stays smaller than scikit-learn's joblib dump. */
export function serializeArtifact(artifact: Artifact): string {
  return `${JSON.stringify(artifact)}\n`;
}

/** serializeArtifact's text in pieces of at most about one tree (see artifactJsonChunks). */
export function* serializeArtifactChunks(artifact: Artifact): Generator<string> {
  yield* artifactJsonChunks(artifact);
  yield '\n';
}

export async function saveArtifact(path: string, artifact: Artifact): Promise<void> {
  await writeTextAtomic(path, serializeArtifactChunks(artifact));
}

let compiled: ValidateFunction<Artifact> | undefined;
let compiledV1: ValidateFunction | undefined;
/** The schema validators, compiled on first use (commands that never load a model never pay for them). */
function validator(): ValidateFunction<Artifact> {
  compiled ??= new Ajv({ allErrors: false, strict: false }).compile<Artifact>(ArtifactT);
  return compiled;
}
function validatorV1(): ValidateFunction {
  if (!compiledV1) {
    const schema = JSON.parse(
      readFileSync(new URL('../../schema/model-v1.schema.json', import.meta.url), 'utf8'),
    ) as Record<string, unknown>;
    compiledV1 = new Ajv({ allErrors: false, strict: false }).compile(schema);
  }
  return compiledV1;
}

/** A refused model file: one line naming the file and the reason. */
export class ModelFileError extends SegserveError {
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`, 'SEGSERVE_ERR_MODEL_FILE');
    this.name = 'ModelFileError';
  }
}

function refuse(source: string, why: string): ModelFileError {
  return new ModelFileError(source, why);
}

/** Sorted and distinct, numbers ascending or strings by code unit, all of one type. */
function sortedDistinct(values: readonly (string | number)[]): boolean {
  const numbers = values.every((v) => typeof v === 'number');
  const strings = values.every((v) => typeof v === 'string');
  if (!numbers && !strings) return false;
  for (let i = 1; i < values.length; i++) {
    if (!((values[i] as string | number) > (values[i - 1] as string | number))) return false;
  }
  return true;
}

/** Checks what a schema cannot: tree structure, indices in range, plausible counts, categories. */
function structuralProblem(a: Artifact): string | undefined {
  const s = a.schema;
  const d = s.features.length;
  const k = s.classes.length;
  if (!sortedDistinct(s.classes)) return '"schema.classes" must be sorted, distinct and of one type';
  const names = new Set<string>();
  for (const [j, f] of s.features.entries()) {
    if (names.has(f.name)) return `schema.features[${j}]: duplicate feature name "${f.name}"`;
    names.add(f.name);
    if (f.kind === 'categorical') {
      const c = f.categories;
      if (!c) return `schema.features[${j}] ("${f.name}") is categorical but has no categories`;
      if (!sortedDistinct(c))
        return `schema.features[${j}].categories must be sorted, distinct and of one type`;
    } else if (f.categories) return `schema.features[${j}] ("${f.name}") is numeric but has categories`;
  }
  for (const [t, tree] of a.forest.trees.entries()) {
    const n = tree.feature.length;
    const at = `forest.trees[${t}]`;
    for (const key of ['threshold', 'left', 'right', 'missingLeft'] as const) {
      if (tree[key].length !== n)
        return `${at}.${key} has ${tree[key].length} entries, expected ${n} (one per node)`;
    }
    if (tree.value.length !== n * k) {
      return `${at}.value has ${tree.value.length} entries, expected ${n * k} (nodes × classes)`;
    }
    const parents = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const f = tree.feature[i] as number;
      const l = tree.left[i] as number;
      const r = tree.right[i] as number;
      let sum = 0;
      for (let c = 0; c < k; c++) sum += tree.value[i * k + c] as number;
      // Sums past 2^53 cannot be sample counts, and past 1e300 their fractions underflow to 0.
      if (!(sum <= 2 ** 53)) return `${at}: node ${i} has implausible class counts (sum ${sum})`;
      if (f === -1) {
        if (l !== -1 || r !== -1) return `${at}: leaf node ${i} has children`;
        if (!(sum > 0)) return `${at}: leaf node ${i} has no class counts, so its fractions cannot sum to 1`;
      } else {
        if (f >= d) return `${at}: node ${i} tests feature ${f}, but the model has ${d} features`;
        if (Number.isNaN(tree.threshold[i])) return `${at}: node ${i} has a NaN threshold`;
        for (const child of [l, r]) {
          if (!(child > i && child < n))
            return `${at}: node ${i} has child index ${child}, expected ${i + 1}..${n - 1}`;
          parents[child] = (parents[child] as number) + 1;
        }
      }
    }
    for (let i = 1; i < n; i++) {
      if (parents[i] !== 1) return `${at}: node ${i} has ${parents[i]} parents, expected 1`;
    }
  }
  const cm = a.training.confusionMatrix;
  if (cm.length !== k || cm.some((row) => row.length !== k))
    return `training.confusionMatrix must be ${k} × ${k}`;
  const shap = a.training.shapImportance;
  if (shap && (shap.values.length !== k || shap.values.some((row) => row.length !== d)))
    return `training.shapImportance.values must be ${k} × ${d} (classes × features)`;
  if (a.training.drift) {
    try {
      validateReference(a.training.drift, d, k);
    } catch (err) {
      return `training.drift: ${(err as Error).message}`;
    }
  }
  if (a.training.featureImportances.length !== d)
    return `training.featureImportances must have ${d} entries (one per feature)`;
  return undefined;
}

function schemaProblem(validate: ValidateFunction, json: unknown): string | undefined {
  if (validate(json)) return undefined;
  const e = validate.errors?.[0];
  const extra =
    e?.keyword === 'additionalProperties'
      ? ` ("${(e.params as { additionalProperty: string }).additionalProperty}")`
      : '';
  return `invalid model: ${e?.instancePath || '(root)'} ${e?.message ?? 'is invalid'}${extra}`;
}

/** The v1 layout (docs/model-format.md, "Version 1"). */
interface ArtifactV1 {
  target: string;
  features: { name: string; kind: 'numeric' | 'categorical'; categories?: number[] }[];
  classes: number[];
  params: SkParams;
  forest: { trees: Omit<TreeJson, 'missingLeft'>[] };
  training: {
    seed: number;
    data: { path: string; sha256: string; rows: number };
    split: { testSize: number; trainRows: number; testRows: number };
    search: TrainingFacts['search'];
    cvScore: number | null;
    cvScoreSd: number | null;
    testAccuracy: number;
    confusionMatrix: number[][];
    featureImportances?: number[];
  };
}

/** Artifacts upgraded in memory from a version 1 file. */
const upgraded = new WeakSet<Artifact>();

/** The format version of the file an artifact was read from (1 for an upgraded file). */
export function fileFormatVersion(a: Artifact): number {
  return upgraded.has(a) ? 1 : a.format.version;
}

/**
 * A version 1 artifact as version 2: the same trees (a v1 model never saw a missing value, so missing
 * values are refused: allowMissing false), evaluation figures from its confusion matrix.
 */
function upgradeV1(v1: ArtifactV1): Artifact {
  const k = v1.classes.length;
  const cm = v1.training.confusionMatrix;
  const total = cm.flat().reduce((s, c) => s + c, 0) || 1;
  const support = cm.map((row) => row.reduce((s, c) => s + c, 0));
  const perClass = cm.map((row, c) => {
    const tp = row[c] ?? 0;
    const predicted = cm.reduce((s, r) => s + (r[c] ?? 0), 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support[c] ? tp / (support[c] as number) : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support: support[c] ?? 0 };
  });
  const majority = support.indexOf(Math.max(...support));
  const body: Undigested = {
    format: { name: FORMAT_NAME, version: FORMAT_VERSION },
    segserveVersion: VERSION,
    schema: {
      target: v1.target,
      features: v1.features.map((f) => ({ ...f, missing: 0, allowMissing: false })),
      classes: [...v1.classes],
      unknownCategory: 'error',
    },
    params: v1.params,
    forest: {
      trees: v1.forest.trees.map((t) => ({
        ...t,
        missingLeft: t.feature.map((f, i) => {
          if (f < 0) return 0;
          // A node that saw no missing value sends it to the child with more training samples.
          const weight = (node: number) => {
            let w = 0;
            for (let c = 0; c < k; c++) w += t.value[node * k + c] ?? 0;
            return w;
          };
          return weight(t.left[i] as number) > weight(t.right[i] as number) ? 1 : 0;
        }),
      })),
    },
    training: {
      seed: v1.training.seed,
      data: v1.training.data,
      split: { ...v1.training.split, stratified: false, testData: null },
      search: v1.training.search,
      cvScore: v1.training.cvScore,
      cvScoreSd: v1.training.cvScoreSd,
      testAccuracy: v1.training.testAccuracy,
      evaluation: {
        accuracy: v1.training.testAccuracy,
        balancedAccuracy: perClass.reduce((s, p) => s + p.recall, 0) / (k || 1),
        macroF1: perClass.reduce((s, p) => s + p.f1, 0) / (k || 1),
        perClass,
        majorityBaseline: {
          label: v1.classes[majority] as number,
          accuracy: (support[majority] ?? 0) / total,
        },
      },
      confusionMatrix: cm,
      featureImportances: v1.training.featureImportances ?? v1.features.map(() => 0),
    },
  };
  return { ...body, digest: artifactDigest(body) };
}

/**
 * Validates parsed JSON as an artifact (version 2, or version 1 upgraded in memory). `source` (the
 * path) starts every message.
 * @throws ModelFileError naming what is wrong.
 */
export function parseArtifact(json: unknown, source: string): Artifact {
  const format = (json as { format?: { name?: unknown; version?: unknown } } | null)?.format;
  if (typeof json !== 'object' || json === null || Array.isArray(json) || format?.name !== FORMAT_NAME) {
    throw refuse(source, `not a segserve model (expected "format": {"name": "${FORMAT_NAME}", ...})`);
  }
  let artifact: Artifact;
  if (format.version === 1) {
    const problem = schemaProblem(validatorV1(), json);
    if (problem) throw refuse(source, problem);
    artifact = upgradeV1(json as unknown as ArtifactV1);
    upgraded.add(artifact);
  } else if (format.version === FORMAT_VERSION) {
    const problem = schemaProblem(validator(), json);
    if (problem) throw refuse(source, problem);
    artifact = json as Artifact;
    if (artifactDigest(artifact) !== artifact.digest) {
      throw refuse(source, 'digest mismatch: the file was changed after training (retrain or restore it)');
    }
  } else {
    throw refuse(
      source,
      `model format version ${JSON.stringify(format.version)} is not supported by segserve ${VERSION} (it reads versions 1 and ${FORMAT_VERSION})`,
    );
  }
  const problem = structuralProblem(artifact);
  if (problem) throw refuse(source, `invalid model: ${problem}`);
  return artifact;
}

/** Parses and validates an artifact's text (a file's contents, or bytes handed over by a primary). */
export function parseArtifactText(text: string, source: string): Artifact {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw refuse(source, `not valid JSON, the file may be truncated (${(err as Error).message})`);
  }
  return parseArtifact(json, source);
}

/** The live model of a validated artifact. */
export function modelFromArtifact(a: Artifact): ForestModel {
  const trees: Tree[] = a.forest.trees.map((t) => ({
    feature: Int32Array.from(t.feature),
    threshold: Float64Array.from(t.threshold),
    left: Int32Array.from(t.left),
    right: Int32Array.from(t.right),
    missingLeft: Uint8Array.from(t.missingLeft),
    value: Float64Array.from(t.value),
  }));
  const forest = Forest.fromTrees(trees, a.schema.classes.length, a.schema.features.length);
  return new ForestModel(a.schema as ModelSchema, forest);
}

export interface LoadedModel {
  model: ForestModel;
  artifact: Artifact;
  /** The artifact's content digest ("sha256:..."): the model version. */
  version: string;
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file (train one with `segserve train`)',
  EISDIR: 'it is a directory, not a model file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many levels of symbolic links (a symlink loop)',
  ENOTDIR: 'a part of the path is not a directory',
  ENAMETOOLONG: 'the path is too long',
};

/**
 * Reads a model file's text: a regular file only (a FIFO would block, a device never ends), at most
 * MAX_MODEL_BYTES. Opened non-blocking so that a FIFO is refused instead of hanging.
 * @throws ModelFileError naming the path and the reason.
 */
export async function readModelFile(path: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw refuse(`cannot read model ${path}`, READ_ERRORS[code] ?? `${code}`);
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw refuse(`cannot read model ${path}`, READ_ERRORS.EISDIR as string);
    if (!info.isFile()) {
      const what = info.isFIFO() ? 'a named pipe (FIFO)' : info.isSocket() ? 'a socket' : 'a device';
      throw refuse(`cannot read model ${path}`, `it is ${what}, not a regular file`);
    }
    if (info.size > MAX_MODEL_BYTES) {
      throw refuse(
        `cannot read model ${path}`,
        `${info.size} bytes is over the ${MAX_MODEL_BYTES}-byte limit`,
      );
    }
    if (info.size === 0) throw refuse(path, 'the file is empty');
    return await handle.readFile('utf8');
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw refuse(`cannot read model ${path}`, READ_ERRORS[code] ?? `${code}`);
  } finally {
    await handle.close();
  }
}

/** Validates an artifact's text and rebuilds its model. */
export function loadArtifactText(text: string, source: string): LoadedModel {
  const artifact = parseArtifactText(text, source);
  return { model: modelFromArtifact(artifact), artifact, version: artifact.digest };
}

/**
 * Reads, validates and rebuilds a model artifact.
 * @throws ModelFileError with a one-line message for a missing, unreadable, truncated, foreign,
 * tampered or implausible file.
 */
export async function loadArtifact(path: string): Promise<LoadedModel> {
  return loadArtifactText(await readModelFile(path), path);
}

/** Loads a model artifact for serving or library use (see loadArtifact). */
export async function loadModel(path: string): Promise<ForestModel> {
  return (await loadArtifact(path)).model;
}
