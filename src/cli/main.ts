/**
 * The segserve command line. The only place that sets exit codes: 0 success, 1 a failure while
 * running, 2 a bad option, argument or input, 3 a finding (drift above --fail-above); each error's
 * code in the catalogue (src/errors.ts, docs/errors.md) fixes which. One line per error,
 * `segserve: <message> [SEGSERVE_ERR_...]`; a stack trace only with SEGSERVE_DEBUG=1.
 */
import { Command, CommanderError } from 'commander';
import { cleanupOnSignals } from '../data/atomic.js';
import { type CliErrorCode, describeError, ERRORS, SegserveError } from '../errors.js';
import { VERSION } from '../version.js';
import { driftCommand } from './drift.js';
import { inspectCommand } from './inspect.js';
import { predictCommand } from './predict.js';
import { schemaCommand } from './schema.js';
import { serveCommand } from './serve.js';
import { simulateCommand } from './simulate.js';
import { trainCommand } from './train.js';
import { upCommand } from './up.js';

export function buildProgram(): Command {
  const program = new Command('segserve')
    .description(
      'simulate customer data, train a random forest, serve it (Seldon Core v1 and Open Inference v2)',
    )
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError(false);
  program.addCommand(upCommand());
  program.addCommand(simulateCommand());
  program.addCommand(schemaCommand());
  program.addCommand(trainCommand());
  program.addCommand(predictCommand());
  program.addCommand(inspectCommand());
  program.addCommand(driftCommand());
  program.addCommand(serveCommand());
  // Every (sub)command reports errors through us, as one line, and never exits by itself.
  const configure = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ outputError: () => {} });
    for (const sub of cmd.commands) configure(sub);
  };
  configure(program);
  // Commands that write files remove their temporary files when interrupted; `up` manages this
  // itself (its server drains on signals), `serve` owns its signals.
  program.hook('preAction', (_program, action) => {
    if (['simulate', 'train', 'predict'].includes(action.name())) cleanupOnSignals();
  });
  return program;
}

/** Prints the one line of an error, its code last in brackets (stable, greppable), and sets the exit code. */
function fail(message: string, code: CliErrorCode): void {
  process.stderr.write(`segserve: ${message} [${code}]\n`);
  process.exitCode = ERRORS[code].exit;
}

export async function main(argv: string[]): Promise<void> {
  // A reader that stops early (`segserve predict ... | head`) is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  const program = buildProgram();
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return;
    }
    await program.parseAsync(argv);
  } catch (err) {
    if (process.env.SEGSERVE_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      if (err.exitCode === 0) return;
      fail(err.message.replace(/^error: /, '').replace(/\n.*/s, ''), 'SEGSERVE_ERR_OPTION');
    } else if (err instanceof SegserveError) {
      fail(err.message, err.code);
    } else {
      fail(
        `unexpected error: ${describeError(err)} (set SEGSERVE_DEBUG=1 for details)`,
        'SEGSERVE_ERR_INTERNAL',
      );
    }
  }
}
