/**
 * The server's defaults, ports and probe paths in one light module: the CLI reads them at start-up
 * without loading Fastify, the routes are registered at these paths, and the deployment manifests
 * (deploy/) are tested against them, so code and manifests cannot drift.
 */
export const DEFAULT_PORT = 9000;
export const DEFAULT_METRICS_PORT = 6000;
export const DEFAULT_METRICS_PATH = '/metrics';
/** The gRPC port (Seldon's Python wrapper's default); 0 turns gRPC off. */
export const DEFAULT_GRPC_PORT = 5000;
/** The variable a SeldonDeployment sets to the container port named `grpc`. */
export const GRPC_PORT_ENV = 'PREDICTIVE_UNIT_GRPC_SERVICE_PORT';
/** Rows kept for the drift gauges (`--drift-window`; 0: no drift gauges) and the most allowed. */
export const DEFAULT_DRIFT_WINDOW = 1000;
export const MAX_DRIFT_WINDOW = 1_000_000;
/**
 * The request id: the caller's `X-Request-Id` (else `Seldon-Puid`) when it is a plain value of at most
 * this many characters, else a fresh UUID; echoed in the `X-Request-Id` response header.
 */
export const REQUEST_ID_HEADER = 'x-request-id';
export const MAX_REQUEST_ID_LENGTH = 128;
export const DEFAULT_GRACE_SECONDS = 10;
/**
 * On SIGTERM, how long readiness answers 503 while predictions are still served, before the listener
 * closes: the time Kubernetes needs to take the pod out of its Service endpoints. SIGINT skips it.
 */
export const DEFAULT_DRAIN_DELAY_SECONDS = 5;
/** Longest a request may take to arrive, headers and body (a stalled upload is cut, 408). */
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 30;
/** Longest the request line and headers may take to arrive (at most the request timeout). */
export const HEADERS_TIMEOUT_SECONDS = 10;
/**
 * How long an idle keep-alive connection is kept open. Above the idle timeout of the usual load
 * balancers in front (60 s for nginx and AWS ALB), so that they, not we, close idle connections.
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS = 65;
/** Longest a component's predict may take before the request is answered 504 (0: no limit). */
export const DEFAULT_PREDICT_TIMEOUT_SECONDS = 30;
/**
 * Deepest nesting of arrays and objects accepted in a JSON request (more is a 400, refused by a byte
 * scan before the text is parsed). A batch of rows is 2 or 3 levels deep; 64 leaves room for any
 * jsonData a component takes.
 */
export const MAX_JSON_DEPTH = 64;
/** Custom metrics (a component's metrics()): most series in all, and most bytes of their exposition. */
export const MAX_CUSTOM_SERIES = 10_000;
export const MAX_CUSTOM_EXPOSITION_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_ROWS = 100_000;
export const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;
/**
 * The body budget (--body-budget) is this many maximum-size bodies: the most request-body bytes being
 * received or processed at once, over all requests; a body that would pass it is refused (503) unread.
 */
export const BODY_BUDGET_BODIES = 3;

/**
 * Memory, measured by bench/serve-faults.mjs (Node 20, x86-64), for sizing the manifests' requests and
 * limits (test/deploy/manifests.test.ts checks them against these figures):
 * - one serving process at rest with a small model, after traffic: about 100 MiB resident;
 * - the loaded model: about 8.5 bytes of heap and typed arrays per byte of model file (42 MB for a
 *   5 MB, 2,000-tree artifact), and about 9 bytes per byte while it loads;
 * - a JSON body being parsed: about 7 bytes per byte (69 MB for a 10 MB body of rows).
 */
export const MEASURED_REST_BYTES = 100 * 1024 * 1024;
export const MEASURED_MODEL_BYTES_PER_FILE_BYTE = 8.5;
export const MEASURED_BODY_BYTES_PER_BYTE = 7;
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
/** Open Inference Protocol model repository extension: list models, (re)load one. */
export const OIP_REPOSITORY_INDEX_PATH = '/v2/repository/index';
export const OIP_REPOSITORY_LOAD_PATH = '/v2/repository/models/:name/load';

/** The environment variable naming the model artifact when --model is not given. */
export const MODEL_ENV = 'SEGSERVE_MODEL';
/** Where the container image reads the model by default (deploy/Dockerfile sets SEGSERVE_MODEL to it). */
export const CONTAINER_MODEL_PATH = '/models/model.json';
/** The environment variable naming the protocol a platform expects (both are always served). */
export const PROTOCOL_ENV = 'PROTOCOL';
