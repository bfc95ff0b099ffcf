/**
 * The server's defaults, ports and probe paths in one light module: the CLI reads them at start-up
 * without loading Fastify, and the deployment manifests are tested against them.
 */
export const DEFAULT_PORT = 9000;
export const DEFAULT_METRICS_PORT = 6000;
export const DEFAULT_METRICS_PATH = '/metrics';
export const DEFAULT_GRACE_SECONDS = 10;
export const DEFAULT_MAX_ROWS = 100_000;
export const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;
export const DEFAULT_MODEL_NAME = 'segserve';
