/**
 * Spawns the BUILT command line (`node bin/segserve.js ...`) the way a user runs it. `npm test`
 * builds dist/ first (pretest); with bare `npx vitest`, run `npm run build` before.
 *
 *   const { code, stdout, stderr } = await runCli(['simulate', '--rows', '10'], { cwd: dir });
 *   const child = spawnCli(['serve', ...]); // long-running: read its streams, kill it yourself
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI_BIN = fileURLToPath(new URL('../../bin/segserve.js', import.meta.url));
const BUILT_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliOptions {
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Added to (or, with `undefined`, removed from) the parent's environment. */
  env?: Record<string, string | undefined>;
  /** Written to the child's stdin, which is then closed. Without it, stdin is empty. */
  input?: string | Buffer;
  /** Kill the child (SIGKILL) after this many ms (default 30 s); the result then has `signal`. */
  timeoutMs?: number;
}

export interface CliResult {
  /** Exit code, or null if the child was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function childEnv(env: CliOptions['env']): NodeJS.ProcessEnv {
  // SEGSERVE_DEBUG from the developer's shell would add stack traces to stderr: off unless asked.
  const merged: NodeJS.ProcessEnv = { ...process.env, SEGSERVE_DEBUG: undefined, ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return merged;
}

/**
 * The catalogue code (src/errors.ts) of the CLI's error line `segserve: <message> [SEGSERVE_ERR_...]`,
 * or undefined when stderr has no such line. Assert codes, not message text.
 */
export function errorCode(stderr: string): string | undefined {
  return /^segserve: .* \[(SEGSERVE_ERR_[A-Z0-9_]+)\]$/m.exec(stderr)?.[1];
}

/** Starts `node bin/segserve.js ...args` and returns the child process (for long-running commands). */
export function spawnCli(
  args: readonly string[],
  options: Omit<CliOptions, 'input' | 'timeoutMs'> = {},
): ChildProcessWithoutNullStreams {
  if (!existsSync(BUILT_MAIN)) throw new Error(`${BUILT_MAIN} is missing: run \`npm run build\` first`);
  return spawn(process.execPath, [CLI_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: childEnv(options.env),
  });
}

/** Runs the CLI to completion and collects its exit code and output (UTF-8). */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => stdout.push(b));
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  child.stdin.on('error', () => {}); // the child may exit without reading its stdin
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}
