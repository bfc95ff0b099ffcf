/**
 * Drift of a whole CSV file against a model's training reference, offline (`segserve drift`).
 *
 * `DriftTally` is the streaming equivalent of a `DriftWindow` large enough to hold every row: it keeps
 * counts per reference bin instead of the rows, so a file of any length takes memory per bin, and its
 * `report` gives the same numbers, bit for bit, as `DriftWindow.report` over the same rows and unknown
 * counts (same shares c / n, same PSI function, same capping). `driftCsv` reads a CSV with the
 * model's decoding (batch.ts), leniently: an unknown category or an unreadable number is read as
 * missing and counted, never an error, so one odd cell does not hide the figures of the rest.
 */
import { readCsvBatches } from './batch.js';
import {
  binOf,
  checkBatch,
  checkUnknownCount,
  type DriftReference,
  type DriftReport,
  type FeatureDrift,
  psi,
} from './drift.js';
import { argmax, type ForestModel } from './model.js';

/**
 * Bin counts of all rows added so far against one reference: `add` (encoded rows, row-major
 * n × features, NaN = missing, with the model's probabilities), `countUnknown`, `report`.
 */
export class DriftTally {
  readonly reference: DriftReference;
  readonly nFeatures: number;
  readonly nClasses: number;
  /** Per feature, counts per value bin of the reference. */
  private readonly counts: Float64Array[];
  private readonly missing: Float64Array;
  /** Categorical codes outside the reference's categories (counted as missing and unknown). */
  private readonly invalid: Float64Array;
  private readonly unknown: Float64Array;
  private readonly classCounts: Float64Array;
  private rows = 0;
  private predicted = 0;

  constructor(reference: DriftReference) {
    this.reference = reference;
    this.nFeatures = reference.features.length;
    this.nClasses = reference.classShares.length;
    this.counts = reference.features.map((f) => new Float64Array(f.shares.length));
    this.missing = new Float64Array(this.nFeatures);
    this.invalid = new Float64Array(this.nFeatures);
    this.unknown = new Float64Array(this.nFeatures);
    this.classCounts = new Float64Array(this.nClasses);
  }

  /** Rows added. */
  get size(): number {
    return this.rows;
  }

  /** Adds n encoded rows and, when given, their probabilities (n × classes) for the class shares. */
  add(x: Float64Array, n: number, proba?: Float64Array): void {
    const F = this.nFeatures;
    const K = this.nClasses;
    checkBatch('drift tally', x, n, F, proba, K);
    const refs = this.reference.features;
    for (let f = 0; f < F; f++) {
      const ref = refs[f]!;
      const counts = this.counts[f]!;
      const nBins = counts.length;
      let missing = 0;
      let invalid = 0;
      for (let i = 0; i < n; i++) {
        const v = x[i * F + f]!;
        if (Number.isNaN(v)) missing++;
        else if (ref.kind === 'numeric') counts[binOf(ref.edges, v)]!++;
        else if (Number.isInteger(v) && v >= 0 && v < nBins) counts[v]!++;
        else {
          invalid++;
          missing++;
        }
      }
      this.missing[f]! += missing;
      this.invalid[f]! += invalid;
    }
    if (proba !== undefined) {
      for (let i = 0; i < n; i++) this.classCounts[argmax(proba, i * K, K)]!++;
      this.predicted += n;
    }
    this.rows += n;
  }

  /** Counts `count` unknown categories of feature `feature` (0-based, schema order). */
  countUnknown(feature: number, count = 1): void {
    checkUnknownCount('drift tally', feature, count, this.nFeatures);
    this.unknown[feature]! += count;
  }

  /** The figures of DriftWindow.report over the same rows. */
  report(): DriftReport {
    const n = this.rows;
    const ref = this.reference;
    const features = ref.features.map((r, f): FeatureDrift => {
      const missing = this.missing[f]!;
      const actual = n > 0 ? [...Array.from(this.counts[f]!, (c) => c / n), missing / n] : [];
      const unknown = r.kind === 'categorical' ? this.unknown[f]! + this.invalid[f]! : 0;
      return {
        name: r.name,
        kind: r.kind,
        psi: n > 0 ? psi([...r.shares, r.missingRate], actual) : 0,
        missingRate: n > 0 ? missing / n : 0,
        expectedMissingRate: r.missingRate,
        unknownRate: n > 0 ? Math.min(1, unknown / n) : 0,
      };
    });
    const predicted = this.predicted;
    const actual = Array.from(this.classCounts, (c) => (predicted > 0 ? c / predicted : 0));
    return {
      rows: n,
      features,
      classShares: {
        expected: ref.classShares.slice(),
        actual,
        psi: predicted > 0 ? psi(ref.classShares, actual) : 0,
      },
    };
  }
}

/** The drift of a CSV file: the report and the cells read as missing because they were unreadable. */
export interface CsvDrift {
  report: DriftReport;
  /** Per feature (schema order): numeric cells that were not numbers, read as missing. */
  badCells: number[];
  /** Per feature: categories the model does not know, read as missing (also in unknownRate). */
  unknownCells: number[];
}

/**
 * Reads every row of the CSV at `path` with the model's decoding, leniently (unknown categories and
 * unreadable numbers become missing and are counted), predicts each row, and tallies it against
 * `reference` (the model's `training.drift`).
 * @throws SegserveError (usage) for a missing file or column, a malformed CSV or an empty file.
 */
export async function driftCsv(
  model: ForestModel,
  reference: DriftReference,
  path: string,
  opts: { naValues?: readonly string[] } = {},
): Promise<CsvDrift> {
  const d = model.features.length;
  const k = model.classes.length;
  const tally = new DriftTally(reference);
  if (tally.nFeatures !== d || tally.nClasses !== k) {
    throw new Error(
      `drift: the reference has ${tally.nFeatures} features and ${tally.nClasses} classes, the model ${d} and ${k}`,
    );
  }
  const badCells = new Array<number>(d).fill(0);
  const unknownCells = new Array<number>(d).fill(0);
  let proba = new Float64Array(0);
  await readCsvBatches(
    model,
    path,
    {
      naValues: opts.naValues,
      lenient: {
        unknown: (j) => {
          unknownCells[j] = (unknownCells[j] as number) + 1;
          tally.countUnknown(j);
        },
        badNumber: (j) => {
          badCells[j] = (badCells[j] as number) + 1;
        },
      },
    },
    ({ x, n }) => {
      if (proba.length < n * k) proba = new Float64Array(n * k);
      model.predictEncodedInto(x, n, proba);
      tally.add(x, n, proba);
    },
  );
  return { report: tally.report(), badCells, unknownCells };
}
