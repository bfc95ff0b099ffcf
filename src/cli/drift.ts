/**
 * `segserve drift`: the drift figures of a CSV file against the model's training data, offline, for
 * CI scripts — the same figures the server's gauges give for its last rows (per-feature population
 * stability index, missing and unknown-category rates, predicted-class shares), over the whole file.
 * Exit 0, or 3 when a feature's PSI is above --fail-above; 2 on bad input (including a model without
 * a drift reference).
 */
import { Command, InvalidArgumentError } from 'commander';
import type { Category } from '../data/schema.js';
import { DEFAULT_MODEL_PATH } from '../defaults.js';
import { csvError, SegserveError, usageError } from '../errors.js';
import type { DriftReport } from '../pipeline/drift.js';
import { fmtInt } from './output.js';

/** PSI below this: stable. */
export const PSI_WATCH = 0.1;
/** PSI above this: shifted (between the two: watch). */
export const PSI_SHIFTED = 0.25;

export type DriftStatus = 'stable' | 'watch' | 'shifted';

/** stable < 0.1 <= watch <= 0.25 < shifted. */
export function driftStatus(psi: number): DriftStatus {
  return psi < PSI_WATCH ? 'stable' : psi > PSI_SHIFTED ? 'shifted' : 'watch';
}

interface DriftFlags {
  model: string;
  data: string;
  json?: boolean;
  failAbove?: number;
}

function psiThreshold(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n < Number.POSITIVE_INFINITY)) {
    throw new InvalidArgumentError('expected a PSI, a number >= 0 (0.25 flags shifted features).');
  }
  return n;
}

export function driftCommand(): Command {
  return new Command('drift')
    .description(
      "compare a CSV with the model's training data: per-feature population stability index (PSI < 0.1 stable, 0.1-0.25 watch, > 0.25 shifted), missing and unknown-category rates, predicted-class shares",
    )
    .requiredOption('--data <path>', 'CSV with the model’s feature columns, by name, in any order')
    .option(
      '--model <path>',
      'model artifact (trained by segserve 0.1 or later: it holds the drift reference)',
      DEFAULT_MODEL_PATH,
    )
    .option('--json', 'print one JSON object to stdout')
    .option('--fail-above <psi>', 'exit 3 when any feature’s PSI is above this (0.25: shifted)', psiThreshold)
    .action(runDrift);
}

/** The figures as printed by --json. */
export interface DriftSummary {
  model: string;
  data: string;
  rows: number;
  referenceRows: number;
  thresholds: { watch: number; shifted: number };
  failAbove: number | null;
  features: {
    name: string;
    kind: 'numeric' | 'categorical';
    psi: number;
    status: DriftStatus;
    missingRate: number;
    expectedMissingRate: number;
    unknownRate: number;
    /** Unknown categories read as missing. */
    unknownCells: number;
    /** Numeric cells that were not numbers, read as missing. */
    badCells: number;
  }[];
  classShares: {
    classes: Category[];
    expected: number[];
    actual: number[];
    psi: number;
    status: DriftStatus;
  };
  /** Features whose PSI is above failAbove. */
  exceeded: string[];
}

export function driftSummary(
  flags: { model: string; data: string; failAbove?: number },
  report: DriftReport,
  referenceRows: number,
  classes: readonly Category[],
  badCells: readonly number[],
  unknownCells: readonly number[],
): DriftSummary {
  const failAbove = flags.failAbove ?? null;
  return {
    model: flags.model,
    data: flags.data,
    rows: report.rows,
    referenceRows,
    thresholds: { watch: PSI_WATCH, shifted: PSI_SHIFTED },
    failAbove,
    features: report.features.map((f, j) => ({
      name: f.name,
      kind: f.kind,
      psi: f.psi,
      status: driftStatus(f.psi),
      missingRate: f.missingRate,
      expectedMissingRate: f.expectedMissingRate,
      unknownRate: f.unknownRate,
      unknownCells: unknownCells[j] ?? 0,
      badCells: badCells[j] ?? 0,
    })),
    classShares: {
      classes: [...classes],
      expected: report.classShares.expected,
      actual: report.classShares.actual,
      psi: report.classShares.psi,
      status: driftStatus(report.classShares.psi),
    },
    exceeded: failAbove === null ? [] : report.features.filter((f) => f.psi > failAbove).map((f) => f.name),
  };
}

const pctOf = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The summary as a table for people. */
export function formatDrift(s: DriftSummary, target: string): string {
  const nameWidth = Math.max(7, ...s.features.map((f) => f.name.length));
  const header = `  ${'feature'.padEnd(nameWidth)}  ${'kind'.padEnd(11)}  ${'PSI'.padStart(8)}  ${'status'.padEnd(7)}  ${'missing'.padStart(7)}  ${'(training)'.padStart(10)}  ${'unknown'.padStart(7)}`;
  const rows = s.features.map((f) => {
    const unknown = f.kind === 'categorical' ? pctOf(f.unknownRate) : '–';
    const bad = f.badCells > 0 ? `  (${fmtInt(f.badCells)} unreadable cells read as missing)` : '';
    return `  ${f.name.padEnd(nameWidth)}  ${f.kind.padEnd(11)}  ${f.psi.toFixed(4).padStart(8)}  ${f.status.padEnd(7)}  ${pctOf(f.missingRate).padStart(7)}  ${`(${pctOf(f.expectedMissingRate)})`.padStart(10)}  ${unknown.padStart(7)}${bad}`;
  });
  const c = s.classShares;
  const shares = c.classes
    .map((label, i) => `${label} ${pctOf(c.actual[i] ?? 0)} (training ${pctOf(c.expected[i] ?? 0)})`)
    .join(', ');
  const lines = [
    `drift of ${s.data} (${fmtInt(s.rows)} rows) against the training data of ${s.model} (${fmtInt(s.referenceRows)} rows)`,
    `PSI < ${PSI_WATCH} stable, ${PSI_WATCH}-${PSI_SHIFTED} watch, > ${PSI_SHIFTED} shifted; missing: share of rows (in training); unknown: share of rows with a category the model does not know`,
    header,
    ...rows,
    `predicted ${target}: ${shares}; PSI ${c.psi.toFixed(4)} ${c.status}`,
  ];
  return `${lines.join('\n')}\n`;
}

async function runDrift(flags: DriftFlags): Promise<void> {
  const { loadArtifact, fileFormatVersion } = await import('../pipeline/artifact.js');
  const { driftCsv } = await import('../pipeline/drift-batch.js');
  const { model, artifact } = await loadArtifact(flags.model);
  const reference = artifact.training.drift;
  if (!reference) {
    throw usageError(
      `${flags.model}: the model has no drift reference (format v${fileFormatVersion(artifact)}, trained by segserve ${artifact.segserveVersion}); retrain it with \`segserve train\` to record one`,
      'SEGSERVE_ERR_NO_DRIFT_REFERENCE',
    );
  }
  const { report, badCells, unknownCells } = await driftCsv(model, reference, flags.data, {
    naValues: model.schema.naValues,
  });
  if (report.rows === 0) throw csvError(`${flags.data}: no data rows (only a header)`);
  const summary = driftSummary(flags, report, reference.rows, model.classes, badCells, unknownCells);
  process.stdout.write(
    flags.json ? `${JSON.stringify(summary)}\n` : formatDrift(summary, model.schema.target),
  );
  if (summary.exceeded.length > 0) {
    const over = summary.features
      .filter((f) => summary.exceeded.includes(f.name))
      .map((f) => `${f.name} ${f.psi.toFixed(4)}`)
      .join(', ');
    throw new SegserveError(
      `drift: PSI above --fail-above ${summary.failAbove}: ${over}`,
      'SEGSERVE_ERR_DRIFT',
    );
  }
}
