/**
 * The model a server process serves, as bytes: read and validated once (by the only process, or by the
 * cluster primary, which hands the same bytes to every worker on start, restart and reload), so that
 * every worker always serves the same version. The version is the artifact's content digest.
 */
import { type LoadedModel, loadArtifactText, readModelFile } from '../pipeline/artifact.js';

/** A model file's text, where it came from, and its version: what travels from primary to worker. */
export interface ModelBytes {
  path: string;
  text: string;
  version: string;
}

/**
 * Reads and validates the model at `path` completely.
 * @throws ModelFileError (a SegserveError) naming the path and the reason.
 */
export async function readModel(path: string): Promise<{ bytes: ModelBytes; loaded: LoadedModel }> {
  const text = await readModelFile(path);
  const loaded = loadArtifactText(text, path);
  return { bytes: { path, text, version: loaded.version }, loaded };
}

/** Validates bytes handed over by the primary and rebuilds the model (the same checks as readModel). */
export function loadBytes(bytes: ModelBytes): LoadedModel {
  return loadArtifactText(bytes.text, bytes.path);
}
