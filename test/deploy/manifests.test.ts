/**
 * The deployment files against the constants the server itself uses (src/serve/constants.ts), so that
 * manifests and code cannot drift: every Kubernetes manifest parsed with `yaml` (ports, probe paths,
 * env, the grace period, Prometheus annotations), the Dockerfile (EXPOSE, SEGSERVE_MODEL, HEALTHCHECK,
 * non-root, stages) and .dockerignore (it lets in exactly what the Dockerfile copies).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  BODY_BUDGET_BODIES,
  CONTAINER_MODEL_PATH,
  DEFAULT_BODY_LIMIT,
  DEFAULT_DRAIN_DELAY_SECONDS,
  DEFAULT_GRACE_SECONDS,
  DEFAULT_GRPC_PORT,
  DEFAULT_METRICS_PATH,
  DEFAULT_METRICS_PORT,
  DEFAULT_PORT,
  HTTP_PORT_NAME,
  KSERVE_PORT,
  MEASURED_BODY_BYTES_PER_BYTE,
  MEASURED_MODEL_BYTES_PER_FILE_BYTE,
  MEASURED_REST_BYTES,
  METRICS_PORT_NAME,
  MODEL_ENV,
  OIP_LIVE_PATH,
  OIP_READY_PATH,
  PROTOCOL_ENV,
  SELDON_LIVENESS_PATH,
  SELDON_READINESS_PATH,
} from '../../src/serve/constants.js';
import { protocolVar } from '../../src/serve/env.js';
import { REPO_ROOT } from '../helpers/cli.js';

const K8S = join(REPO_ROOT, 'deploy/k8s');

// The shapes of the Kubernetes objects this test reads (the rest is left to the API server).
interface Port {
  name?: string;
  containerPort: number;
  protocol?: string;
}
interface Probe {
  httpGet?: { path: string; port?: number | string };
  periodSeconds?: number;
  failureThreshold?: number;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: Port[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean };
  containers: Container[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // Each kind has its own spec; the tests below narrow it.
  spec: unknown;
}

interface Loaded {
  file: string;
  text: string;
  docs: Manifest[];
}

function load(): Loaded[] {
  return readdirSync(K8S)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(K8S, file), 'utf8');
      const docs = parseAllDocuments(text);
      const parsed: Manifest[] = [];
      for (const doc of Array.isArray(docs) ? docs : [docs]) {
        expect(doc.errors, `${file}: ${doc.errors.join('; ')}`).toEqual([]);
        expect(doc.warnings, `${file}: ${doc.warnings.join('; ')}`).toEqual([]);
        parsed.push(doc.toJS() as Manifest);
      }
      return { file, text, docs: parsed };
    });
}

const files = load();
const all = files.flatMap((f) => f.docs);

function byKind(kind: string): Manifest {
  const found = all.filter((m) => m.kind === kind);
  expect(found, `one ${kind} in deploy/k8s`).toHaveLength(1);
  return found[0] as Manifest;
}

function env(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

function port(c: Container, name: string): Port | undefined {
  return c.ports?.find((p) => p.name === name);
}

/** The seconds of a flag in a container's args, else the default. */
function flagSeconds(c: Container, flag: string, fallback: number): number {
  const args = c.args ?? [];
  const at = args.indexOf(flag);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}
const grace = (c: Container) => flagSeconds(c, '--grace', DEFAULT_GRACE_SECONDS);
const drainDelay = (c: Container) => flagSeconds(c, '--drain-delay', DEFAULT_DRAIN_DELAY_SECONDS);

/** Kubernetes' probe defaults: every 10 s, 3 failures. */
function probeSeconds(p: Probe | undefined): number {
  return (p?.periodSeconds ?? 10) * (p?.failureThreshold ?? 3);
}

/**
 * The shutdown timing: readiness fails within the drain delay (the server answers 503 from SIGTERM on:
 * the probe must notice before the listener closes), and the kubelet's SIGKILL comes only after
 * preStop + drain delay + grace.
 */
function checkShutdown(c: Container, pod: PodSpec, preStop: number): void {
  expect(drainDelay(c)).toBeGreaterThan(0);
  expect(probeSeconds(c.readinessProbe)).toBeLessThanOrEqual(drainDelay(c));
  expect(pod.terminationGracePeriodSeconds ?? 30).toBeGreaterThan(preStop + drainDelay(c) + grace(c));
}

/** The seconds of a `sleep N` preStop hook (the operator's default for Seldon: 5). */
function preStopSleep(c: Container, fallback = 0): number {
  const command = c.lifecycle?.preStop?.exec?.command;
  if (command === undefined) return fallback;
  const m = /sleep\s+(\d+)/.exec(command.join(' '));
  return m ? Number(m[1]) : fallback;
}

/** Kubernetes memory quantities (Mi, Gi, M, G, or bytes) in bytes. */
function bytes(q: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(q ?? '');
  expect(m, `memory quantity ${q}`).not.toBeNull();
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 }[m?.[2] ?? ''] ?? 1;
  return Number(m?.[1]) * unit;
}

/** The model file size the manifests are sized for (their comments say so). */
const SIZED_FOR_MODEL_BYTES = 10 * 1024 * 1024;

/**
 * Memory sized from measurement (src/serve/constants.ts, bench/serve-faults.mjs): the request holds the
 * process at rest with its model; the limit adds the body budget's bodies being parsed at once.
 */
function checkMemory(c: Container): void {
  const bodyLimit = flagSeconds(c, '--body-limit', DEFAULT_BODY_LIMIT);
  const model = MEASURED_MODEL_BYTES_PER_FILE_BYTE * SIZED_FOR_MODEL_BYTES;
  const bodies = BODY_BUDGET_BODIES * bodyLimit * MEASURED_BODY_BYTES_PER_BYTE;
  expect(bytes(c.resources?.requests?.memory)).toBeGreaterThanOrEqual(MEASURED_REST_BYTES + model);
  expect(bytes(c.resources?.limits?.memory)).toBeGreaterThanOrEqual(MEASURED_REST_BYTES + model + bodies);
}

/** Checks what every serving container has: the model path, the HTTP and metrics ports, resources. */
function checkSeldonStyle(c: Container, pod: PodSpec, defaultPreStop: number): void {
  expect(env(c, MODEL_ENV)).toBe(CONTAINER_MODEL_PATH);
  expect(port(c, HTTP_PORT_NAME)?.containerPort).toBe(DEFAULT_PORT);
  expect(port(c, METRICS_PORT_NAME)?.containerPort).toBe(DEFAULT_METRICS_PORT);
  expect(c.readinessProbe?.httpGet).toEqual({ path: SELDON_READINESS_PATH, port: HTTP_PORT_NAME });
  expect(c.livenessProbe?.httpGet).toEqual({ path: SELDON_LIVENESS_PATH, port: HTTP_PORT_NAME });
  expect(c.resources?.requests?.cpu).toBeDefined();
  checkMemory(c);
  checkShutdown(c, pod, preStopSleep(c, defaultPreStop));
  expect(pod.securityContext?.runAsNonRoot).toBe(true);
}

describe('every manifest', () => {
  test('parses, and explains itself in comments', () => {
    expect(files.map((f) => f.file)).toEqual([
      'deployment.yaml',
      'inference-service.yaml',
      'seldon-deployment.yaml',
    ]);
    for (const { file, text, docs } of files) {
      expect(text.startsWith('#'), `${file} starts with a comment`).toBe(true);
      expect(text.split('\n').filter((l) => /^\s*#/.test(l)).length, file).toBeGreaterThan(5);
      for (const doc of docs) {
        expect(typeof doc.apiVersion, file).toBe('string');
        expect(typeof doc.metadata?.name, file).toBe('string');
      }
    }
  });
});

describe('SeldonDeployment (Seldon Core v1)', () => {
  const sdep = byKind('SeldonDeployment');
  const spec = sdep.spec as {
    protocol?: string;
    predictors: {
      name: string;
      labels?: Record<string, string>;
      componentSpecs: { spec: PodSpec }[];
      graph: { name: string; type: string; endpoint?: { type: string }; children?: unknown[] };
    }[];
  };

  test('a custom MODEL server: the graph node is named after its container', () => {
    expect(sdep.apiVersion).toBe('machinelearning.seldon.io/v1');
    expect(spec.protocol).toBe('seldon');
    expect(spec.predictors).toHaveLength(1);
    const predictor = spec.predictors[0];
    const containers = predictor?.componentSpecs.flatMap((c) => c.spec.containers) ?? [];
    expect(predictor?.graph.type).toBe('MODEL');
    expect(predictor?.graph.endpoint?.type).toBe('REST');
    expect(containers.map((c) => c.name)).toContain(predictor?.graph.name);
    expect(predictor?.labels?.version).toBeDefined();
  });

  test('ports http and metrics, the Seldon probes, the model path, the grace period', () => {
    const predictor = spec.predictors[0];
    const pod = predictor?.componentSpecs[0]?.spec as PodSpec;
    const c = pod.containers.find((x) => x.name === predictor?.graph.name) as Container;
    // Without its own lifecycle, the Seldon operator adds a 5 s preStop sleep.
    checkSeldonStyle(c, pod, 5);
  });
});

describe('InferenceService (KServe, Open Inference v2)', () => {
  const isvc = byKind('InferenceService');
  const predictor = (isvc.spec as { predictor: { containers: Container[] } }).predictor;
  const c = predictor.containers[0] as Container;

  test('a custom predictor container: PROTOCOL=v2, port 8080 through PORT, readiness on /v2/health/ready', () => {
    expect(isvc.apiVersion).toBe('serving.kserve.io/v1beta1');
    expect(predictor.containers).toHaveLength(1);
    expect(c.name).toBe('kserve-container');
    const protocol = env(c, PROTOCOL_ENV);
    expect(protocol).toBe('v2');
    // The server accepts the value it is given.
    expect(protocolVar({ [PROTOCOL_ENV]: protocol })).toBe('v2');
    // Knative sets PORT from the one container port, and refuses a PORT in env.
    expect(env(c, 'PORT')).toBeUndefined();
    expect(c.ports).toEqual([{ containerPort: KSERVE_PORT, protocol: 'TCP' }]);
    expect(c.readinessProbe?.httpGet?.path).toBe(OIP_READY_PATH);
    expect(c.livenessProbe?.httpGet?.path).toBe(OIP_LIVE_PATH);
    // Knative's queue-proxy drains in front of the container; the pod's own timing still holds.
    checkShutdown(c, (isvc.spec as { predictor: PodSpec }).predictor, 0);
    checkMemory(c);
    expect(env(c, MODEL_ENV)).toBe(CONTAINER_MODEL_PATH);
    expect(c.resources?.requests?.cpu).toBeDefined();
  });

  test('Prometheus scraping of the metrics port', () => {
    const a = isvc.metadata.annotations ?? {};
    expect(a['serving.kserve.io/enable-prometheus-scraping']).toBe('true');
    expect(a['prometheus.kserve.io/port']).toBe(String(DEFAULT_METRICS_PORT));
    expect(a['prometheus.kserve.io/path']).toBe(DEFAULT_METRICS_PATH);
  });
});

describe('plain Deployment + Service + HorizontalPodAutoscaler', () => {
  const deployment = byKind('Deployment');
  const dspec = deployment.spec as {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: PodSpec;
    };
  };
  const pod = dspec.template.spec;
  const c = pod.containers[0] as Container;

  test('probes, ports, resources, the model path, and a termination grace above drain delay + grace', () => {
    expect(deployment.apiVersion).toBe('apps/v1');
    expect(dspec.template.metadata.labels).toMatchObject(dspec.selector.matchLabels);
    // segserve drains by itself on SIGTERM (--drain-delay): a preStop sleep would only add to it.
    expect(c.lifecycle?.preStop).toBeUndefined();
    checkSeldonStyle(c, pod, 0);
  });

  test('Prometheus scrape annotations name the metrics port and path', () => {
    const a = dspec.template.metadata.annotations ?? {};
    expect(a['prometheus.io/scrape']).toBe('true');
    expect(a['prometheus.io/port']).toBe(String(DEFAULT_METRICS_PORT));
    expect(a['prometheus.io/path']).toBe(DEFAULT_METRICS_PATH);
  });

  test('the Service selects the pods and forwards to the named ports', () => {
    const service = byKind('Service');
    const sspec = service.spec as {
      selector: Record<string, string>;
      ports: { name: string; port: number; targetPort: string | number }[];
    };
    expect(dspec.template.metadata.labels).toMatchObject(sspec.selector);
    const http = sspec.ports.find((p) => p.name === HTTP_PORT_NAME);
    const metrics = sspec.ports.find((p) => p.name === METRICS_PORT_NAME);
    expect(http).toMatchObject({ port: DEFAULT_PORT, targetPort: HTTP_PORT_NAME });
    expect(metrics).toMatchObject({ port: DEFAULT_METRICS_PORT, targetPort: METRICS_PORT_NAME });
  });

  test('the HPA scales the Deployment on CPU (which the container requests)', () => {
    const hpa = byKind('HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    const hspec = hpa.spec as {
      scaleTargetRef: { apiVersion: string; kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
      metrics: { type: string; resource?: { name: string } }[];
    };
    expect(hspec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata.name,
    });
    expect(hspec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(hspec.maxReplicas).toBeGreaterThan(hspec.minReplicas);
    expect(hspec.metrics.some((m) => m.resource?.name === 'cpu')).toBe(true);
    expect(c.resources?.requests?.cpu).toBeDefined();
  });
});

describe('deploy/Dockerfile and .dockerignore', () => {
  const text = readFileSync(join(REPO_ROOT, 'deploy/Dockerfile'), 'utf8');
  // Instructions, with continuation lines joined and comments dropped.
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const at = l.indexOf(' ');
      return { op: l.slice(0, at).toUpperCase(), args: l.slice(at + 1).trim() };
    });
  const argsOf = (op: string) => instructions.filter((i) => i.op === op).map((i) => i.args);
  const stages = instructions.flatMap((i, n) => (i.op === 'FROM' ? [n] : []));
  const runtime = instructions.slice(stages[stages.length - 1]);
  const inRuntime = (op: string) => runtime.filter((i) => i.op === op).map((i) => i.args);

  test('the current Node LTS (24), pinned to one release, in every stage', () => {
    const [image] = argsOf('ARG').filter((a) => a.startsWith('NODE_IMAGE='));
    expect(image).toMatch(/^NODE_IMAGE=node:24\.\d+\.\d+-bookworm-slim$/);
    // Every stage FROM the pinned image (the ARG, not a tag of its own).
    const pinned = ['$', '{NODE_IMAGE}'].join('');
    for (const from of argsOf('FROM')) expect(from.split(' ')[0]).toBe(pinned);
  });

  test('multi-stage: a build stage, production dependencies only in the image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(argsOf('RUN').some((r) => r.includes('npm run build'))).toBe(true);
    const installs = inRuntime('RUN').filter((r) => r.includes('npm'));
    expect(installs).toEqual([]);
    const deps = instructions.filter((i) => i.op === 'RUN' && /npm ci .*--omit=dev/.test(i.args));
    expect(deps).toHaveLength(1);
    expect(inRuntime('COPY').some((c) => /--from=\S+ \/app\/node_modules/.test(c))).toBe(true);
  });

  test('EXPOSE the HTTP, gRPC and metrics ports; SEGSERVE_MODEL is the container model path', () => {
    expect(inRuntime('EXPOSE')).toEqual([`${DEFAULT_PORT} ${DEFAULT_GRPC_PORT} ${DEFAULT_METRICS_PORT}`]);
    expect(inRuntime('ENV').join(' ')).toContain(`${MODEL_ENV}=${CONTAINER_MODEL_PATH}`);
    expect(inRuntime('RUN').join(' ')).toContain(`mkdir -p ${dirname(CONTAINER_MODEL_PATH)}`);
    expect(inRuntime('RUN').join(' ')).toContain(CONTAINER_MODEL_PATH);
  });

  test('non-root by number, and the entry point is `segserve serve`', () => {
    const [user] = inRuntime('USER');
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user?.split(':')[0])).toBeGreaterThan(0);
    expect(JSON.parse(inRuntime('ENTRYPOINT')[0] ?? '[]')).toEqual(['node', 'bin/segserve.js', 'serve']);
  });

  test('the HEALTHCHECK asks the liveness path on the port the server picks from the environment', () => {
    const [check] = inRuntime('HEALTHCHECK');
    const exec = JSON.parse((check ?? '').slice((check ?? '').indexOf('[')) || '[]') as string[];
    expect(exec.slice(0, 2)).toEqual(['node', '-e']);
    const script = exec[2] ?? '';
    expect(script).toContain(SELDON_LIVENESS_PATH);
    // The server's order (src/cli/serve.ts): PREDICTIVE_UNIT_HTTP_SERVICE_PORT, then PORT, then the default.
    expect(script).toMatch(
      new RegExp(`PREDICTIVE_UNIT_HTTP_SERVICE_PORT \\|\\| process\\.env\\.PORT \\|\\| ${DEFAULT_PORT}\\b`),
    );
  });

  test('.dockerignore is an allowlist letting in exactly what the Dockerfile copies from the context', () => {
    const patterns = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(patterns[0]).toBe('*');
    const allowed = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
    const sources = argsOf('COPY')
      .filter((c) => !c.startsWith('--from'))
      .flatMap((c) => c.split(/\s+/).slice(0, -1))
      .map((s) => s.replace(/^\$\{MODEL:-(.*)\}$/, '$1'));
    expect(new Set(sources)).toEqual(new Set(allowed.filter((p) => !p.includes('*'))));
    // A baked model comes from artifacts/.
    expect(allowed).toContain('artifacts/*.json');
  });
});

describe('gRPC, commented out in the Seldon and KServe manifests (docs/grpc.md)', () => {
  const text = (file: string) => readFileSync(join(REPO_ROOT, 'deploy/k8s', file), 'utf8');
  test('SeldonDeployment: transport, the `grpc` port and the GRPC endpoint, ready to uncomment', () => {
    const t = text('seldon-deployment.yaml');
    expect(t).toMatch(/^ {2}# transport: grpc$/m);
    expect(t).toMatch(/^ {18}# - name: grpc\n {18}# {3}containerPort: 9500\n {18}# {3}protocol: TCP$/m);
    expect(t).toMatch(/^ {10}# type: GRPC\b/m);
  });

  test('InferenceService: an h2c port and both segserve ports named, ready to uncomment', () => {
    const t = text('inference-service.yaml');
    expect(t).toMatch(/^ {10}# - name: h2c\n {10}# {3}containerPort: 8081\n {10}# {3}protocol: TCP$/m);
    expect(t).toMatch(/# - name: PREDICTIVE_UNIT_GRPC_SERVICE_PORT\n\s+# {3}value: "8081"/);
    expect(t).toMatch(/# - name: PREDICTIVE_UNIT_HTTP_SERVICE_PORT\n\s+# {3}value: "8080"/);
  });
});
