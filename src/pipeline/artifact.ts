/**
 * The versioned JSON model artifact (docs/model-format.md, schema/model.schema.json): build it from a
 * fitted model, save it atomically, and load it back only after checking the schema and the structure
 * of every tree, so a truncated or tampered file never serves.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ajv, type ValidateFunction } from 'ajv';
import { writeTextAtomic } from '../data/atomic.js';
import { SegserveError } from '../errors.js';
import { Forest } from '../forest/forest.js';
import type { ForestParams, Tree } from '../forest/types.js';
import { VERSION } from '../version.js';
import { OrdinalEncoder } from './encoder.js';
import { ForestModel } from './model.js';
import { type SkParams, toSkParams } from './params.js';
import type { FeatureInfo } from './types.js';

export const FORMAT_NAME = 'segserve-model';
export const FORMAT_VERSION = 1;

export interface CandidateResult {
  params: SkParams;
  meanScore: number;
  sdScore: number;
  foldScores: number[];
}

export interface SearchFacts {
  nIter: number;
  cv: number;
  scoring: string;
  space: Record<string, unknown[]>;
  candidates: CandidateResult[];
  bestIndex: number;
}

/** Deterministic facts of the training run: the same inputs give the same bytes, whatever the workers. */
export interface TrainingFacts {
  seed: number;
  data: { path: string; sha256: string; rows: number };
  split: { testSize: number; trainRows: number; testRows: number };
  search: SearchFacts | null;
  cvScore: number | null;
  cvScoreSd: number | null;
  testAccuracy: number;
  confusionMatrix: number[][];
  featureImportances: number[];
}

export interface TreeJson {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

export interface Artifact {
  format: { name: typeof FORMAT_NAME; version: typeof FORMAT_VERSION };
  segserveVersion: string;
  target: string;
  features: FeatureInfo[];
  classes: number[];
  params: SkParams;
  forest: { trees: TreeJson[] };
  training: TrainingFacts;
}

export function buildArtifact(
  model: ForestModel,
  target: string,
  params: ForestParams,
  training: TrainingFacts,
): Artifact {
  return {
    format: { name: FORMAT_NAME, version: FORMAT_VERSION },
    segserveVersion: VERSION,
    target,
    features: model.features.map((f) => ({ ...f })),
    classes: [...model.classes],
    params: toSkParams(params),
    forest: {
      trees: model.forest.trees.map((t) => ({
        feature: Array.from(t.feature),
        threshold: Array.from(t.threshold),
        left: Array.from(t.left),
        right: Array.from(t.right),
        value: Array.from(t.value),
      })),
    },
    training,
  };
}

/** Serialises compactly (no indentation): the file stays smaller than scikit-learn's joblib dump. */
export async function saveArtifact(path: string, artifact: Artifact): Promise<void> {
  await writeTextAtomic(path, `${JSON.stringify(artifact)}\n`);
}

let compiled: ValidateFunction<Artifact> | undefined;
/** The schema validator, compiled on first use (commands that never load a model never pay for it). */
function schemaValidator(): ValidateFunction<Artifact> {
  if (!compiled) {
    const schema = JSON.parse(
      readFileSync(new URL('../../schema/model.schema.json', import.meta.url), 'utf8'),
    );
    compiled = new Ajv({ allErrors: false, strict: false }).compile<Artifact>(
      schema as Record<string, unknown>,
    );
  }
  return compiled;
}

function refuse(source: string, why: string): SegserveError {
  return new SegserveError(`${source}: ${why}`, 'failure');
}

/** Checks what a schema cannot: tree structure, indices in range, leaf fractions, categories. */
function structuralProblem(a: Artifact): string | undefined {
  const d = a.features.length;
  const k = a.classes.length;
  if (new Set(a.classes).size !== k) return `"classes" has duplicates`;
  for (const [j, f] of a.features.entries()) {
    if (f.kind === 'categorical') {
      const c = f.categories;
      if (!c) return `features[${j}] ("${f.name}") is categorical but has no categories`;
      for (let i = 1; i < c.length; i++) {
        if (!((c[i] as number) > (c[i - 1] as number)))
          return `features[${j}].categories must be sorted and distinct`;
      }
    } else if (f.categories) return `features[${j}] ("${f.name}") is numeric but has categories`;
  }
  for (const [t, tree] of a.forest.trees.entries()) {
    const n = tree.feature.length;
    const at = `forest.trees[${t}]`;
    for (const key of ['threshold', 'left', 'right'] as const) {
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
      if (f === -1) {
        if (l !== -1 || r !== -1) return `${at}: leaf node ${i} has children`;
        let sum = 0;
        for (let c = 0; c < k; c++) sum += tree.value[i * k + c] as number;
        if (!(sum > 0)) return `${at}: leaf node ${i} has no class counts, so its fractions cannot sum to 1`;
      } else {
        if (f >= d) return `${at}: node ${i} tests feature ${f}, but the model has ${d} features`;
        if (!Number.isFinite(tree.threshold[i])) return `${at}: node ${i} has a non-finite threshold`;
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
  return undefined;
}

/**
 * Validates parsed JSON as an artifact. `source` (the path) starts every message.
 * @throws SegserveError naming what is wrong.
 */
export function parseArtifact(json: unknown, source: string): Artifact {
  const format = (json as { format?: { name?: unknown; version?: unknown } } | null)?.format;
  if (typeof json !== 'object' || json === null || format?.name !== FORMAT_NAME) {
    throw refuse(source, `not a segserve model (expected "format": {"name": "${FORMAT_NAME}", ...})`);
  }
  if (format.version !== FORMAT_VERSION) {
    throw refuse(
      source,
      `model format version ${JSON.stringify(format.version)} is not supported by segserve ${VERSION} (it reads version ${FORMAT_VERSION})`,
    );
  }
  const validateSchema = schemaValidator();
  if (!validateSchema(json)) {
    const e = validateSchema.errors?.[0];
    const extra =
      e?.keyword === 'additionalProperties'
        ? ` ("${(e.params as { additionalProperty: string }).additionalProperty}")`
        : '';
    throw refuse(
      source,
      `invalid model: ${e?.instancePath || '(root)'} ${e?.message ?? 'is invalid'}${extra}`,
    );
  }
  const problem = structuralProblem(json);
  if (problem) throw refuse(source, `invalid model: ${problem}`);
  return json;
}

/** Rebuilds the live model from a validated artifact. */
export function modelFromArtifact(a: Artifact): ForestModel {
  const trees: Tree[] = a.forest.trees.map((t) => ({
    feature: Int32Array.from(t.feature),
    threshold: Float64Array.from(t.threshold),
    left: Int32Array.from(t.left),
    right: Int32Array.from(t.right),
    value: Float64Array.from(t.value),
  }));
  const forest = Forest.fromTrees(trees, a.classes.length, a.features.length);
  return new ForestModel(new OrdinalEncoder(a.features), forest, a.classes);
}

export interface LoadedModel {
  model: ForestModel;
  artifact: Artifact;
}

/**
 * Reads, validates and rebuilds a model artifact.
 * @throws SegserveError with a one-line message for a missing, truncated, foreign or tampered file.
 */
export async function loadArtifact(path: string): Promise<LoadedModel> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file (train one with `segserve train`)'
        : code === 'EISDIR'
          ? 'it is a directory'
          : String(code);
    throw new SegserveError(`cannot read model ${path}: ${why}`, 'failure');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw refuse(path, `not valid JSON, the file may be truncated (${(err as Error).message})`);
  }
  const artifact = parseArtifact(json, path);
  return { model: modelFromArtifact(artifact), artifact };
}

/** Loads a model artifact for serving or library use (see loadArtifact). */
export async function loadModel(path: string): Promise<ForestModel> {
  return (await loadArtifact(path)).model;
}
