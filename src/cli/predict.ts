import { Command, Option } from 'commander';
import { writeChunk, writeFileAtomic } from '../data/atomic.js';
import { DEFAULT_MODEL_PATH } from '../defaults.js';
import type { BatchFormat } from '../pipeline/batch.js';
import { fmtInt, fmtSeconds } from './output.js';

interface PredictFlags {
  data: string;
  model: string;
  out: string;
  format: BatchFormat;
  skipBad?: boolean;
  keep?: string[];
  explain?: boolean;
}

export function predictCommand(): Command {
  return new Command('predict')
    .description(
      'score a CSV offline: the feature columns, kept columns, one probability column per class (p_<label>) and the predicted label',
    )
    .requiredOption('--data <path>', 'CSV with the model’s feature columns, by name, in any order')
    .option('--model <path>', 'model artifact', DEFAULT_MODEL_PATH)
    .option('--out <path>', 'output file, or - for stdout', '-')
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
    .option('--keep <a,b>', 'columns to pass through to the output (an id, the true label)', (v: string) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    )
    .option('--skip-bad', 'report bad rows on stderr and skip them instead of failing')
    .option(
      '--explain',
      'add exact TreeSHAP contributions: shap_<feature> columns for the predicted class and shap_expected (CSV), or shap_values, expected_value, feature_names, class_names (JSON lines)',
    )
    .action(runPredict);
}

async function runPredict(flags: PredictFlags): Promise<void> {
  const { loadArtifact } = await import('../pipeline/artifact.js');
  const { scoreCsv } = await import('../pipeline/batch.js');
  const { model } = await loadArtifact(flags.model);
  const started = performance.now();
  const opts = {
    format: flags.format,
    keep: flags.keep,
    explain: flags.explain === true,
    onBadRow: flags.skipBad
      ? (problem: string) => process.stderr.write(`segserve: skipped ${flags.data}: ${problem}\n`)
      : undefined,
  };
  const toStdout = flags.out === '-';
  let counts = { scored: 0, skipped: 0 };
  if (toStdout)
    counts = await scoreCsv(model, flags.data, (chunk) => writeChunk(process.stdout, chunk), opts);
  else {
    await writeFileAtomic(flags.out, async (out) => {
      counts = await scoreCsv(model, flags.data, (chunk) => writeChunk(out, chunk), opts);
    });
  }
  const seconds = (performance.now() - started) / 1000;
  const skipped = counts.skipped > 0 ? `, skipped ${fmtInt(counts.skipped)} bad rows` : '';
  process.stderr.write(
    `${flags.explain ? 'scored and explained' : 'scored'} ${fmtInt(counts.scored)} rows${skipped} into ${toStdout ? 'stdout' : flags.out} in ${fmtSeconds(seconds)} s\n`,
  );
}
