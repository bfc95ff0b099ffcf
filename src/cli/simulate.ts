import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_DATA_PATH, DEFAULT_ROWS, DEFAULT_SEED } from '../defaults.js';
import type { Spec } from '../simulate/spec.js';
import { positiveInt, readJsonFile, seed } from './options.js';
import { fmtInt, fmtSeconds, progressBar } from './output.js';

export interface SimulateFlags {
  rows: number;
  seed: number;
  out?: string;
  spec?: string;
  printSpec?: boolean;
  json?: boolean;
}

export function simulateCommand(): Command {
  return new Command('simulate')
    .description(
      'draw the documented customer data set (age, income, class, response, segment, events) as CSV',
    )
    .option('--rows <n>', 'number of rows', positiveInt, DEFAULT_ROWS)
    .option('--seed <s>', 'random seed, an integer in [0, 2^32)', seed, DEFAULT_SEED)
    .option('--out <path>', `output CSV file, or - for stdout (default: ${DEFAULT_DATA_PATH})`)
    .option('--spec <file>', 'JSON file overriding parameters of the documented process')
    .option('--print-spec', 'print the effective spec as JSON and exit')
    .option('--json', 'print a one-line JSON summary to stdout')
    .action(runSimulate);
}

export async function runSimulate(flags: SimulateFlags): Promise<void> {
  const { DEFAULT_SPEC, parseSpec } = await import('../simulate/spec.js');
  const { simulateToFiles, writeCustomersCsv } = await import('../simulate/simulate.js');
  const spec: Spec = flags.spec
    ? parseSpec(await readJsonFile(flags.spec, 'spec file'), flags.spec)
    : structuredClone(DEFAULT_SPEC);
  if (flags.printSpec) {
    process.stdout.write(`${JSON.stringify(spec, null, 2)}\n`);
    return;
  }
  const path = flags.out ?? DEFAULT_DATA_PATH;
  const toStdout = path === '-';
  if (flags.out === undefined) await mkdir(dirname(path), { recursive: true });

  const started = performance.now();
  const bar = progressBar(flags.rows, 'simulate', 200_000);
  const opts = { spec, seed: flags.seed, rows: flags.rows, onProgress: bar.update };
  let schemaPath: string | null = null;
  try {
    if (toStdout) await writeCustomersCsv(process.stdout, { ...opts, recycleChunks: true });
    else schemaPath = await simulateToFiles(path, opts);
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - started) / 1000;

  const summary = {
    rows: flags.rows,
    seed: flags.seed,
    path,
    schema: schemaPath,
    seconds: Number(seconds.toFixed(3)),
  };
  if (flags.json && !toStdout) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const into = toStdout ? 'stdout' : `${path} (schema ${schemaPath})`;
    const line = `simulated ${fmtInt(flags.rows)} rows (seed ${flags.seed}) into ${into} in ${fmtSeconds(seconds)} s\n`;
    (toStdout ? process.stderr : process.stdout).write(flags.json ? `${JSON.stringify(summary)}\n` : line);
  }
}
