/**
 * The Seldon (and KServe) environment a model server reads, parsed once at start-up. A bad value is a
 * usage error naming the variable; nothing here is read on the request path.
 */
import { usageError } from '../errors.js';
import { DEFAULT_METRICS_PATH, MODEL_ENV, PROTOCOL_ENV } from './constants.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** What Seldon prints for an identity label whose variable is unset. */
export const NOT_IMPLEMENTED = 'NOT_IMPLEMENTED';

export interface SeldonIdentity {
  /** SELDON_DEPLOYMENT_ID */
  deploymentName: string;
  /** PREDICTIVE_UNIT_ID (the container name) */
  modelName: string;
  /** PREDICTIVE_UNIT_IMAGE before the last `:` */
  imageName: string;
  /** PREDICTIVE_UNIT_IMAGE after the last `:` */
  imageVersion: string;
  /** PREDICTOR_ID */
  predictorName: string;
  /** PREDICTOR_LABELS.version */
  predictorVersion: string;
  /** `meta.requestPath` added to every response: `{PREDICTIVE_UNIT_ID: PREDICTIVE_UNIT_IMAGE}`, or {} */
  requestPath: Readonly<Record<string, string>>;
  /** For metadata defaults: the image name and tag, or "" when PREDICTIVE_UNIT_IMAGE is unset. */
  metadataName: string;
  metadataVersion: string;
}

export interface SeldonSettings {
  identity: SeldonIdentity;
  /** INCLUDE_METRICS_IN_CLIENT_RESPONSE (default true): custom metrics also go into `meta.metrics`. */
  includeMetricsInResponse: boolean;
  /** SELDON_EXECUTOR_ENABLED (default true): feedback rewards are counted. */
  executorEnabled: boolean;
  /** MODEL_METADATA parsed (JSON), merged over the component's metadata. */
  modelMetadata: Record<string, unknown> | undefined;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** Splits `repo/name:tag` at the last `:` that is not part of a registry host (`host:5000/name`). */
export function splitImage(image: string): { name: string; version: string | undefined } {
  const at = image.lastIndexOf(':');
  if (at < 0 || image.indexOf('/', at) >= 0) return { name: image, version: undefined };
  return { name: image.slice(0, at), version: image.slice(at + 1) };
}

function parseJsonVar(env: Env, name: string): unknown {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch (err) {
    throw usageError(`${name} is not valid JSON (${(err as Error).message})`);
  }
}

export function seldonIdentity(env: Env): SeldonIdentity {
  const unitId = nonEmpty(env.PREDICTIVE_UNIT_ID);
  const image = nonEmpty(env.PREDICTIVE_UNIT_IMAGE);
  const split = image === undefined ? undefined : splitImage(image);
  const labels = parseJsonVar(env, 'PREDICTOR_LABELS');
  if (labels !== undefined && (typeof labels !== 'object' || labels === null || Array.isArray(labels))) {
    throw usageError('PREDICTOR_LABELS must be a JSON object such as {"version": "v1"}');
  }
  const version = (labels as Record<string, unknown> | undefined)?.version;
  return {
    deploymentName: nonEmpty(env.SELDON_DEPLOYMENT_ID) ?? NOT_IMPLEMENTED,
    modelName: unitId ?? NOT_IMPLEMENTED,
    imageName: split?.name ?? NOT_IMPLEMENTED,
    imageVersion: split?.version ?? NOT_IMPLEMENTED,
    predictorName: nonEmpty(env.PREDICTOR_ID) ?? NOT_IMPLEMENTED,
    predictorVersion: typeof version === 'string' && version !== '' ? version : NOT_IMPLEMENTED,
    requestPath: unitId === undefined ? {} : { [unitId]: image ?? 'NOT_IMPLEMENTED:NOT_IMPLEMENTED' },
    metadataName: split?.name ?? '',
    metadataVersion: split?.version ?? '',
  };
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = nonEmpty(env[name]);
  return raw === undefined ? fallback : raw.toLowerCase() === 'true';
}

export function seldonSettings(env: Env): SeldonSettings {
  const metadata = parseJsonVar(env, 'MODEL_METADATA');
  if (
    metadata !== undefined &&
    (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
  ) {
    throw usageError('MODEL_METADATA must be a JSON object (YAML is not supported)');
  }
  return {
    identity: seldonIdentity(env),
    includeMetricsInResponse: flag(env, 'INCLUDE_METRICS_IN_CLIENT_RESPONSE', true),
    executorEnabled: nonEmpty(env.SELDON_EXECUTOR_ENABLED)?.toLowerCase() !== 'false',
    modelMetadata: metadata as Record<string, unknown> | undefined,
  };
}

/** The metrics path: PREDICTIVE_UNIT_METRICS_ENDPOINT (default /metrics), always with a leading `/`. */
export function metricsPath(env: Env): string {
  const raw = nonEmpty(env.PREDICTIVE_UNIT_METRICS_ENDPOINT) ?? DEFAULT_METRICS_PATH;
  return raw.startsWith('/') ? raw : `/${raw}`;
}

const LOG_LEVELS: Readonly<Record<string, string>> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARNING: 'warn',
  WARN: 'warn',
  ERROR: 'error',
  CRITICAL: 'fatal',
  FATAL: 'fatal',
};

/** SELDON_LOG_LEVEL (DEBUG, INFO, WARNING, ERROR; default INFO) as a pino level. */
export function logLevel(env: Env): string {
  const raw = nonEmpty(env.SELDON_LOG_LEVEL);
  if (raw === undefined) return 'info';
  const level = LOG_LEVELS[raw.toUpperCase()];
  if (level === undefined)
    throw usageError(`SELDON_LOG_LEVEL=${raw}: expected DEBUG, INFO, WARNING or ERROR`);
  return level;
}

/** Reads a port variable: an integer in [0, 65535], or undefined when unset. */
export function portVar(env: Env, name: string): number | undefined {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535)
    throw usageError(`${name}=${raw}: expected a port number in [0, 65535]`);
  return n;
}

/**
 * The protocol a platform expects: `seldon` (Seldon Core v1) or `v2` (the Open Inference Protocol, which
 * KServe, Seldon Core 2 and MLServer speak). Both are always served on the HTTP port; this only picks the
 * error envelope of answers outside either protocol's routes (an unknown path, a malformed request).
 */
export type Protocol = 'seldon' | 'v2';

const PROTOCOLS: ReadonlyMap<string, Protocol> = new Map([
  ['seldon', 'seldon'],
  ['v1', 'seldon'],
  ['v2', 'v2'],
  ['kserve', 'v2'],
  ['oip', 'v2'],
]);

/** PROTOCOL (seldon, v1, v2, kserve, oip; case-insensitive; default seldon). */
export function protocolVar(env: Env): Protocol {
  const raw = nonEmpty(env[PROTOCOL_ENV]);
  if (raw === undefined) return 'seldon';
  const protocol = PROTOCOLS.get(raw.toLowerCase());
  if (protocol === undefined) {
    throw usageError(
      `${PROTOCOL_ENV}=${raw}: expected seldon, v1, v2 or kserve (Seldon v1 and Open Inference v2 REST are both always served)`,
    );
  }
  return protocol;
}

/** SEGSERVE_MODEL: the model artifact's path when --model is not given, or undefined when unset or empty. */
export function modelVar(env: Env): string | undefined {
  return nonEmpty(env[MODEL_ENV]);
}
