/**
 * Nothing is lost: every file segserve writes goes to a temporary file in the target's own folder
 * and is renamed over the target only once it is complete, so a failed or interrupted run leaves the
 * previous file untouched. Temporary files are tracked: on SIGINT or SIGTERM (cleanupOnSignals) they
 * are removed before the process exits, and files written as a group (a model and its report) are
 * renamed together with the signal held off, so that they never disagree.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, unlinkSync, type WriteStream } from 'node:fs';
import { access, constants, type FileHandle, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { type ErrorCode, SegserveError } from '../errors.js';

/** Temporary files being written, removed on an interrupting signal. */
const live = new Set<string>();
/** Renames in progress: a signal waits for them. */
let committing = 0;
let heldSignal: NodeJS.Signals | null = null;

function tempPathFor(path: string): string {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  live.add(tmp);
  return tmp;
}

function removeTemps(): void {
  for (const tmp of live) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
  live.clear();
}

function exitOnSignal(signal: NodeJS.Signals): void {
  removeTemps();
  const code = 'SEGSERVE_ERR_INTERRUPTED' satisfies ErrorCode;
  process.stderr.write(`segserve: interrupted (${signal}); previous outputs left in place [${code}]\n`);
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

function onSignal(signal: NodeJS.Signals): void {
  if (committing > 0) heldSignal = signal;
  else exitOnSignal(signal);
}

/**
 * Until the returned function is called, SIGINT and SIGTERM remove this process's temporary files and
 * exit (130 or 143), leaving every previous output in place. For commands that write files (simulate,
 * train, predict); a server installs its own handlers instead.
 */
export function cleanupOnSignals(): () => void {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** Runs the renames of a commit with interrupting signals held until they are all done. */
async function commit(renames: [string, string][]): Promise<void> {
  committing++;
  try {
    for (const [from, to] of renames) {
      await rename(from, to);
      live.delete(from);
    }
  } finally {
    committing--;
    if (committing === 0 && heldSignal) exitOnSignal(heldSignal);
  }
}

/** One line for an fs error: what failed, on which path, and the system's reason. */
export function ioError(action: string, path: string, err: unknown): SegserveError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason =
    code === 'ENOENT'
      ? 'the folder does not exist'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'ENOSPC'
            ? 'no space left on device'
            : code === 'EROFS'
              ? 'read-only file system'
              : err instanceof Error
                ? err.message
                : String(err);
  return new SegserveError(`cannot ${action} ${path}: ${reason}`, 'SEGSERVE_ERR_IO', { cause: err });
}

/**
 * Streams content into `path` atomically. `produce` writes to the stream (respecting backpressure);
 * when it resolves, the file is flushed, synced and renamed into place. If it throws, the temporary
 * file is removed and the error rethrown.
 */
export async function writeFileAtomic(
  path: string,
  produce: (out: WriteStream) => Promise<void>,
): Promise<void> {
  const tmp = tempPathFor(path);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(tmp, 'wx');
  } catch (err) {
    throw ioError('write', path, err);
  }
  const out = createWriteStream('', { fd: handle.fd, autoClose: false, highWaterMark: 1 << 20 });
  try {
    await produce(out);
    out.end();
    await finished(out);
    await handle.sync();
    await handle.close();
    await commit([[tmp, path]]);
  } catch (err) {
    // Let an in-flight write settle before the descriptor goes (the stream does not own it).
    if (!out.closed) {
      const closed = new Promise<void>((resolve) => out.once('close', () => resolve()));
      out.destroy();
      await closed;
    }
    await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    live.delete(tmp);
    throw err instanceof SegserveError ? err : ioError('write', path, err);
  }
}

/**
 * Writes several files so that they never disagree: each goes to a temporary file first; only when all
 * are complete are they renamed into place, one after the other with interrupting signals held off.
 * On any failure no target is touched and every temporary file is removed.
 */
export async function writeTextsAtomic(
  files: readonly { path: string; text: string | Iterable<string> }[],
): Promise<void> {
  const temps: string[] = [];
  try {
    for (const f of files) {
      const tmp = tempPathFor(f.path);
      temps.push(tmp);
      let handle: Awaited<ReturnType<typeof open>>;
      try {
        handle = await open(tmp, 'wx');
      } catch (err) {
        throw ioError('write', f.path, err);
      }
      try {
        if (typeof f.text === 'string') await handle.writeFile(f.text);
        else await writeAll(handle, f.text);
        await handle.sync();
      } catch (err) {
        throw ioError('write', f.path, err);
      } finally {
        await handle.close();
      }
    }
  } catch (err) {
    for (const tmp of temps) {
      await unlink(tmp).catch(() => {});
      live.delete(tmp);
    }
    throw err;
  }
  await commit(files.map((f, i) => [temps[i] as string, f.path]));
}

/**
 * Fails early, before a long job, if `path` could not be written: its folder must exist and be
 * writable, and the path must not be a directory.
 */
export async function checkWritable(path: string): Promise<void> {
  try {
    const folder = dirname(path);
    if (!(await stat(folder)).isDirectory())
      throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    await access(folder, constants.W_OK);
    if ((await stat(path).catch(() => null))?.isDirectory())
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  } catch (err) {
    throw ioError('write', path, err);
  }
}

/** Pieces are gathered into writes of this many bytes. */
const WRITE_BATCH = 1 << 20;

/**
 * Writes the pieces of a text in order, a batch at a time, never the whole text as one string: each
 * piece is encoded into one reusable buffer, so a big text leaves no batch strings behind.
 */
async function writeAll(handle: FileHandle, pieces: Iterable<string>): Promise<void> {
  const buf = Buffer.allocUnsafe(WRITE_BATCH);
  let n = 0;
  for (const piece of pieces) {
    // A UTF-16 unit is at most 3 bytes of UTF-8: count exactly only when the quick bound does not fit.
    const room = WRITE_BATCH - n;
    const bytes = piece.length * 3 > room ? Buffer.byteLength(piece) : 0;
    if (bytes > room) {
      if (n > 0) await handle.write(buf, 0, n);
      n = 0;
      if (bytes > WRITE_BATCH) {
        await handle.write(piece);
        continue;
      }
    }
    n += buf.write(piece, n, 'utf8');
  }
  if (n > 0) await handle.write(buf, 0, n);
}

/** Writes a whole string, or a text given in pieces (written as they come), atomically. */
export function writeTextAtomic(path: string, text: string | Iterable<string>): Promise<void> {
  return writeFileAtomic(path, async (out) => {
    if (typeof text === 'string') {
      out.write(text);
      return;
    }
    for (const piece of text) await writeChunk(out, piece);
  });
}

/**
 * Writes `chunk` (then calls `done` once the stream is through with it), waiting for 'drain' when the
 * stream's buffer is full.
 */
export async function writeChunk(
  out: NodeJS.WritableStream,
  chunk: string | Uint8Array,
  done?: () => void,
): Promise<void> {
  if (!out.write(chunk, done)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        out.off('error', onError);
        resolve();
      };
      const onError = (err: Error) => {
        out.off('drain', onDrain);
        reject(err);
      };
      out.once('drain', onDrain);
      out.once('error', onError);
    });
  }
}
