/**
 * The server's defaults, ports and probe paths in one light module: the CLI reads them at start-up
 * without loading Fastify, the routes are registered at these paths, and the deployment manifests
 * (deploy/) are tested against them, so code and manifests cannot drift.
 */
export const DEFAULT_PORT = 9000;
export const DEFAULT_METRICS_PORT = 6000;
export const DEFAULT_METRICS_PATH = '/metrics';
export const DEFAULT_GRACE_SECONDS = 10;
export const DEFAULT_MAX_ROWS = 100_000;
export const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;
export const DEFAULT_MODEL_NAME = 'segserve';

/** The container port names a SeldonDeployment looks for (the HTTP port and the metrics port). */
export const HTTP_PORT_NAME = 'http';
export const METRICS_PORT_NAME = 'metrics';
/** The port KServe (Knative) gives a custom predictor, through the PORT variable. */
export const KSERVE_PORT = 8080;

/** Seldon v1 liveness: `pong`, never touches the model. */
export const SELDON_LIVENESS_PATH = '/health/ping';
/** Seldon v1 readiness: the component's health status; 503 while draining. */
export const SELDON_READINESS_PATH = '/health/status';
/** Open Inference Protocol v2: server metadata, liveness, readiness (503 while draining). */
export const OIP_SERVER_PATH = '/v2';
export const OIP_LIVE_PATH = '/v2/health/live';
export const OIP_READY_PATH = '/v2/health/ready';

/** The environment variable naming the model artifact when --model is not given. */
export const MODEL_ENV = 'SEGSERVE_MODEL';
/** Where the container image reads the model by default (deploy/Dockerfile sets SEGSERVE_MODEL to it). */
export const CONTAINER_MODEL_PATH = '/models/model.json';
/** The environment variable naming the protocol a platform expects (both are always served). */
export const PROTOCOL_ENV = 'PROTOCOL';
