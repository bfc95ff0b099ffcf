/**
 * Terminal output helpers: a progress bar on stderr (only on a TTY) and number formatting.
 */
import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

const NO_PROGRESS: Progress = { update() {}, stop() {} };

/** A progress bar on stderr when it is a terminal and the job is long enough to deserve one. */
export function progressBar(total: number, label: string, minTotal = 0): Progress {
  if (!process.stderr.isTTY || total < minTotal) return NO_PROGRESS;
  // Required only when a bar is drawn (a terminal): scripts and CI never load it.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  bar.start(total, 0, { eta: 'ETA …' });
  return {
    update: (done) => bar.update(done, { eta: eta(done, total, (performance.now() - started) / 1000) }),
    stop: () => bar.stop(),
  };
}

/**
 * The time left, once it means something: after 5 % of the work and 2 s (before that the first fits,
 * slowed by worker start-up, would predict nonsense).
 */
export function eta(done: number, total: number, seconds: number): string {
  if (done <= 0 || done / total < 0.05 || seconds < 2) return 'ETA …';
  const left = Math.round((seconds * (total - done)) / done);
  return left >= 60 ? `ETA ${Math.floor(left / 60)}m${String(left % 60).padStart(2, '0')}s` : `ETA ${left}s`;
}

/** 1234567 → "1,234,567" (not toLocaleString: loading ICU's locale data costs a CLI 10+ ms). */
export function fmtInt(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function fmtSeconds(s: number): string {
  return s < 10 ? s.toFixed(2) : s.toFixed(1);
}
