/**
 * Prometheus metrics from one prom-client Registry:
 * - custom metrics with Seldon's semantics and labels (COUNTER → `<key>_total`, accumulated; GAUGE → set;
 *   TIMER in ms → histogram in seconds with the wrapper's exact bucket bounds), including the feedback
 *   counters `seldon_api_model_feedback[_reward]_total`;
 * - the request histogram an executor would give, `seldon_api_executor_server_requests_seconds`;
 * - predictions per segment, `segserve_predictions_total{segment}`;
 * - Node process metrics (prom-client's default metrics).
 * Every label value comes from the environment, the component's own tags or a bounded set (route
 * service, HTTP method, status code, class label): never from request data.
 */
import { collectDefaultMetrics, type Metric, Registry } from 'prom-client';
import type { SeldonMetric } from './component.js';
import { MAX_CUSTOM_EXPOSITION_BYTES, MAX_CUSTOM_SERIES } from './constants.js';
import type { SeldonIdentity } from './env.js';
import { ServeError } from './errors.js';

/** TIMER bucket upper bounds (seconds), exactly as the Seldon wrapper prints them. Hard-coded on purpose. */
export const TIMER_BUCKETS: readonly string[] = [
  '0.001',
  '0.0012341553253454693',
  '0.0015231393670785815',
  '0.0018797905611233593',
  '0.0023199535315445415',
  '0.002863183005509725',
  '0.0035336125536884733',
  '0.004361026750842238',
  '0.005382184388525997',
  '0.006642451525090608',
  '0.008197816923039709',
  '0.010117379411776668',
  '0.012486417679584786',
  '0.015410178873747385',
  '0.019018554321561593',
  '0.02347185009632733',
  '0.028967908792092944',
  '0.03575089889988335',
  '0.04412216226317852',
  '0.05445360152285871',
  '0.06720420230367624',
  '0.0829404241586763',
  '0.10236136616184238',
  '0.12632982515827532',
  '0.15591062646904755',
  '0.19241792993472334',
  '0.2374736129208902',
  '0.2930793240153456',
  '0.3617054084821892',
  '0.44640065608455204',
  '0.5509277469444613',
  '0.6799304127720881',
  '0.8391397397870157',
  '1.035628778567157',
  '1.2781267721496807',
  '1.5774069623151439',
  '1.9467652027782552',
  '2.402610642206036',
  '2.965194718810281',
  '3.65951085290597',
  '4.516404807273444',
  '5.573945044312399',
  '6.879113959621136',
  '8.489895126924782',
  '10.477849282518772',
  '12.931293490187748',
  '15.959224724520412',
  '19.696162182151948',
  '24.30812344597087',
  '29.999999999999996',
];

/** The executor's request-latency buckets (seldon-core executor/api/metric DefBuckets). */
export const EXECUTOR_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

export const REQUEST_METRIC = 'seldon_api_executor_server_requests_seconds';
export const PREDICTIONS_METRIC = 'segserve_predictions_total';
export const MODEL_INFO_METRIC = 'segserve_model_info';
export const CUSTOM_DROPPED_METRIC = 'segserve_custom_metrics_dropped_total';
export const WORKERS_METRIC = 'segserve_workers';
export const WORKER_RESTARTS_METRIC = 'segserve_worker_restarts_total';
const FEEDBACK_KEY = 'seldon_api_model_feedback';
const FEEDBACK_REWARD_KEY = 'seldon_api_model_feedback_reward';

/** The `method` label of custom metrics: which wrapper call produced them. */
export type MetricMethod = 'predict' | 'health' | 'feedback';

/** The executor's `service` label (`explain`: segserve's explanation routes). */
export type RequestService = 'predictions' | 'feedback' | 'status' | 'metadata' | 'explain';

/** The `protocol` label of the request histogram: the REST port or the gRPC port. */
export type RequestProtocol = 'rest' | 'grpc';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: ReadonlySet<string> = new Set(['COUNTER', 'GAUGE', 'TIMER']);

type FamilyType = 'counter' | 'gauge' | 'histogram';

/** One series of a family: its labels, its value (the sum for a histogram), its bucket counts. */
export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  value: number;
  /** histogram: observations per bucket, not cumulative */
  readonly buckets: Float64Array | undefined;
  count: number;
}

interface ValueOut {
  value: number;
  labels: Record<string, string>;
  metricName?: string;
}

/**
 * A metric family whose series each carry their own label set (Seldon keys custom series by type, key
 * and tags, so one key may carry different tag names). Registered in the prom-client Registry as a
 * collector producing prom-client's own value format, so exposition and cluster aggregation work
 * unchanged; recording is a field update on a series handle (no label hashing on the hot path).
 */
class Family {
  readonly series = new Map<string, Series>();
  private readonly bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly type: FamilyType,
    readonly help: string,
    /** histogram upper bounds as printed in `le` */
    private readonly le: readonly string[] = [],
    /** How the cluster primary merges the workers' values (prom-client's aggregators). */
    readonly aggregator: 'sum' | 'max' = 'sum',
  ) {
    this.bounds = le.map(Number);
  }

  /** The series for `labels` (created on first use), keyed by `key`. */
  handle(key: string, labels: Record<string, string>): Series {
    let s = this.series.get(key);
    if (s === undefined) {
      s = {
        labels,
        value: 0,
        buckets: this.type === 'histogram' ? new Float64Array(this.le.length) : undefined,
        count: 0,
      };
      this.series.set(key, s);
    }
    return s;
  }

  /** Adds an observation to a histogram series: `le` is inclusive, as in Prometheus. */
  observe(s: Series, v: number): void {
    s.value += v;
    s.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= (b[i] as number)) {
        (s.buckets as Float64Array)[i] = ((s.buckets as Float64Array)[i] as number) + 1;
        return;
      }
    }
  }

  get(): { name: string; help: string; type: FamilyType; aggregator: string; values: ValueOut[] } {
    const values: ValueOut[] = [];
    for (const s of this.series.values()) {
      if (this.type !== 'histogram') {
        values.push({ value: s.value, labels: { ...s.labels } });
        continue;
      }
      const buckets = s.buckets as Float64Array;
      let cumulative = 0;
      for (let i = 0; i < this.le.length; i++) {
        cumulative += buckets[i] as number;
        values.push({
          value: cumulative,
          labels: { ...s.labels, le: this.le[i] as string },
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ value: s.count, labels: { ...s.labels, le: '+Inf' }, metricName: `${this.name}_bucket` });
      values.push({ value: s.value, labels: { ...s.labels }, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}

/** About how many bytes one series adds to the exposition (a histogram prints a line per bucket and 3 more). */
function seriesBytes(family: Family, labels: Readonly<Record<string, string>>): number {
  let line = family.name.length + 24;
  for (const [k, v] of Object.entries(labels)) line += k.length + v.length + 4;
  return family.type === 'histogram' ? line * (TIMER_BUCKETS.length + 4) : line;
}

function familyOf(m: SeldonMetric): { name: string; type: FamilyType } {
  if (m.type === 'COUNTER') return { name: `${m.key}_total`, type: 'counter' };
  if (m.type === 'GAUGE') return { name: m.key, type: 'gauge' };
  return { name: m.key, type: 'histogram' };
}

/** Names a family of this type prints, besides its own. */
function printedNames(name: string, type: string): string[] {
  if (type === 'histogram') return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

function badMetric(m: unknown, why: string): ServeError {
  let text: string;
  try {
    text = JSON.stringify(m) ?? String(m);
  } catch {
    text = String(m);
  }
  if (text.length > 200) text = `${text.slice(0, 200)}...`;
  return new ServeError('BAD_METRIC', `Bad metric created during request: ${text} (${why})`);
}

/**
 * Checks what a component's metrics() returned. undefined/null is no metrics.
 * @throws ServeError BAD_METRIC naming the first bad metric.
 */
export function validateMetrics(raw: unknown): SeldonMetric[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw badMetric(raw, 'metrics() must return an array');
  for (const m of raw as unknown[]) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw badMetric(m, 'not an object');
    const { type, key, value, tags } = m as Record<string, unknown>;
    if (typeof type !== 'string' || !TYPES.has(type))
      throw badMetric(m, 'type must be COUNTER, GAUGE or TIMER');
    if (typeof key !== 'string' || !METRIC_NAME.test(key)) {
      throw badMetric(m, 'key must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)');
    }
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw badMetric(m, 'value must be a finite number');
    if ((type === 'COUNTER' || type === 'TIMER') && value < 0) {
      throw badMetric(m, `a ${type} value cannot be negative`);
    }
    if (tags !== undefined) {
      if (typeof tags !== 'object' || tags === null || Array.isArray(tags))
        throw badMetric(m, 'tags must be an object');
      for (const [name, v] of Object.entries(tags)) {
        if (!LABEL_NAME.test(name) || name.startsWith('__') || name === 'le') {
          throw badMetric(m, `tag "${name}" is not a valid label name`);
        }
        if (typeof v !== 'string') throw badMetric(m, `tag "${name}" must be a string`);
      }
    }
  }
  return raw as SeldonMetric[];
}

/** Adds rows per segment (class column). */
export interface SegmentCounter {
  add(counts: ArrayLike<number>): void;
}

/**
 * Records the requests of one executor `service` into the request histogram. It remembers the series
 * of the last method and status, which nearly every request repeats: no key or label object per request.
 */
export class RequestMeter {
  private readonly series = new Map<string, Series>();
  private lastMethod = '';
  private last: Series | undefined;

  private lastCodeName: string | number = 0;

  constructor(
    private readonly family: Family,
    readonly service: RequestService,
    private readonly identity: Readonly<Record<string, string>>,
    readonly protocol: RequestProtocol = 'rest',
  ) {}

  /**
   * One request: `method` the HTTP method (gRPC: `unary`), `code` the HTTP status (gRPC: the status name
   * as Seldon's executor writes it, `OK`, `InvalidArgument`...), `seconds` how long it took.
   */
  observe(method: string, code: number | string, seconds: number): void {
    let s = this.last;
    if (s === undefined || method !== this.lastMethod || code !== this.lastCodeName) {
      const key = `${method} ${code}`;
      s = this.series.get(key);
      if (s === undefined) {
        s = this.family.handle(`${this.protocol} ${this.service} ${key}`, {
          deployment_name: this.identity.deployment_name as string,
          predictor_name: this.identity.predictor_name as string,
          predictor_version: this.identity.predictor_version as string,
          service: this.service,
          method: method.toLowerCase(),
          code: String(code),
          protocol: this.protocol,
        });
        this.series.set(key, s);
      }
      this.last = s;
      this.lastMethod = method;
      this.lastCodeName = code;
    }
    this.family.observe(s, seconds);
  }
}

export interface ServeMetricsOptions {
  identity: SeldonIdentity;
  /** The worker_id label of custom metrics (default: this process id, as the wrapper's gunicorn pid). */
  workerId?: string;
  /** Collect Node process metrics into this registry (default true). */
  processMetrics?: boolean;
  /**
   * At most this many custom series in all (default MAX_CUSTOM_SERIES), and about this many bytes of
   * their exposition (default MAX_CUSTOM_EXPOSITION_BYTES): past either, a new series is dropped and
   * counted in segserve_custom_metrics_dropped_total, so that request-derived tags can neither grow
   * /metrics without bound nor fail a request.
   */
  maxCustomSeries?: number;
  maxCustomBytes?: number;
}

export class ServeMetrics {
  readonly registry = new Registry();
  private readonly identityLabels: Record<string, string>;
  private readonly requests: Family;
  private readonly meters = new Map<string, RequestMeter>();
  private readonly predictions: Family;
  private readonly modelInfo: Family;
  private readonly families = new Map<string, Family>();
  private readonly maxSeries: number;
  private readonly maxBytes: number;
  private seriesCount = 0;
  private customBytes = 0;
  private readonly droppedSeries: Series;

  constructor(options: ServeMetricsOptions) {
    const id = options.identity;
    this.identityLabels = {
      deployment_name: id.deploymentName,
      image_name: id.imageName,
      image_version: id.imageVersion,
      model_image: id.imageName,
      model_name: id.modelName,
      model_version: id.imageVersion,
      predictor_name: id.predictorName,
      predictor_version: id.predictorVersion,
      seldon_deployment_name: id.deploymentName,
      worker_id: options.workerId ?? String(process.pid),
    };
    this.maxSeries = options.maxCustomSeries ?? MAX_CUSTOM_SERIES;
    this.maxBytes = options.maxCustomBytes ?? MAX_CUSTOM_EXPOSITION_BYTES;
    const dropped = new Family(
      CUSTOM_DROPPED_METRIC,
      'counter',
      'Custom metric series dropped: the component reported more series, or longer ones, than the caps allow',
    );
    this.droppedSeries = dropped.handle('', {});
    this.register(dropped);
    this.requests = new Family(
      REQUEST_METRIC,
      'histogram',
      'A histogram of latencies for executor server',
      EXECUTOR_BUCKETS.map(String),
    );
    this.predictions = new Family(
      PREDICTIONS_METRIC,
      'counter',
      'Rows predicted, by most probable segment (class label)',
    );
    this.modelInfo = new Family(
      MODEL_INFO_METRIC,
      'gauge',
      'The served model: 1 for its version (the artifact content digest); two series mean two versions',
      [],
      // Every worker reports 1 for the version it serves: the primary shows 1 per version, not a count.
      'max',
    );
    this.register(this.requests);
    this.register(this.predictions);
    this.register(this.modelInfo);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of this registry. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The version now served (`segserve_model_info{version}` = 1; an earlier version's series goes). */
  setModelVersion(version: string): void {
    this.modelInfo.reset();
    this.modelInfo.handle(version, { version }).value = 1;
  }

  /** Records one REST request: `service` is the executor's, `method` the HTTP method, `code` the status. */
  observeRequest(service: RequestService, method: string, code: number, seconds: number): void {
    this.meter(service).observe(method, code, seconds);
  }

  /** Records one gRPC call: `code` is the status name (`OK`, `InvalidArgument`...), method `unary`. */
  observeGrpc(service: RequestService, code: string, seconds: number): void {
    this.meter(service, 'grpc').observe('unary', code, seconds);
  }

  /** The request meter of one executor `service` on one protocol (one per pair, made once). */
  meter(service: RequestService, protocol: RequestProtocol = 'rest'): RequestMeter {
    const key = `${protocol} ${service}`;
    let m = this.meters.get(key);
    if (m === undefined) {
      m = new RequestMeter(this.requests, service, this.identityLabels, protocol);
      this.meters.set(key, m);
    }
    return m;
  }

  /** A counter of rows per predicted segment; `labels[c]` names class column c. */
  segmentCounter(labels: readonly string[]): SegmentCounter {
    const series = labels.map((segment) => this.predictions.handle(segment, { segment }));
    return {
      add(counts: ArrayLike<number>): void {
        for (let c = 0; c < series.length; c++) (series[c] as Series).value += counts[c] as number;
      },
    };
  }

  private register(family: Family): void {
    // prom-client's Registry takes any object with name/get/reset; its typings only list its own classes.
    this.registry.registerMetric(family as unknown as Metric<string>);
  }

  /** The wrapper's feedback counters: one per feedback with a non-zero reward, and the positive rewards. */
  countFeedback(reward: number): void {
    const metrics: SeldonMetric[] = [{ type: 'COUNTER', key: FEEDBACK_KEY, value: 1 }];
    if (reward > 0) metrics.push({ type: 'COUNTER', key: FEEDBACK_REWARD_KEY, value: reward });
    this.recordCustom(metrics, 'feedback');
  }

  /**
   * Records validated custom metrics with the Seldon labels. All or nothing: a metric that cannot be
   * recorded (a name taken by another type, too many series) throws BAD_METRIC before any is recorded.
   */
  recordCustom(metrics: readonly SeldonMetric[], method: MetricMethod): void {
    if (metrics.length === 0) return;
    const planned: { m: SeldonMetric; family: Family; key: string; labels: Record<string, string> }[] = [];
    const newFamilies = new Map<string, Family>();
    for (const m of metrics) {
      const { name, type } = familyOf(m);
      let family = this.families.get(name) ?? newFamilies.get(name);
      if (family === undefined) {
        // Full: no new family either (a request-derived key would grow the registry too).
        if (this.seriesCount >= this.maxSeries || this.customBytes >= this.maxBytes) {
          this.droppedSeries.value++;
          continue;
        }
        const clash = this.nameClash(name, type, newFamilies);
        if (clash) throw badMetric(m, clash);
        family = new Family(
          name,
          type,
          `Custom ${m.type} metric "${m.key}" reported by the served component's metrics()`,
          type === 'histogram' ? TIMER_BUCKETS : [],
        );
        newFamilies.set(name, family);
      } else if (family.type !== type) {
        throw badMetric(m, `"${name}" is already a ${family.type}`);
      }
      const labels = this.labelsFor(m.tags, method);
      planned.push({ m, family, key: JSON.stringify(labels), labels });
    }
    for (const family of newFamilies.values()) {
      this.families.set(family.name, family);
      this.register(family);
    }
    for (const { m, family, key, labels } of planned) {
      let s = family.series.get(key);
      if (s === undefined) {
        // A new series: within the caps, or dropped and counted (never a failed request).
        const bytes = seriesBytes(family, labels);
        if (this.seriesCount + 1 > this.maxSeries || this.customBytes + bytes > this.maxBytes) {
          this.droppedSeries.value++;
          continue;
        }
        s = family.handle(key, labels);
        this.seriesCount++;
        this.customBytes += bytes;
      }
      if (family.type === 'counter') s.value += m.value;
      else if (family.type === 'gauge') s.value = m.value;
      else family.observe(s, m.value / 1000);
    }
  }

  /** The metric's tags, then `method`, then the identity labels (which win), sorted by name. */
  private labelsFor(tags: Record<string, string> | undefined, method: MetricMethod): Record<string, string> {
    const merged: Record<string, string> = Object.create(null) as Record<string, string>;
    if (tags) for (const [k, v] of Object.entries(tags)) merged[k] = v;
    merged.method = method;
    for (const [k, v] of Object.entries(this.identityLabels)) merged[k] = v;
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(merged).sort()) sorted[k] = merged[k] as string;
    return sorted;
  }

  /** Why a new family `name` of `type` would print a name another family already prints, if it would. */
  private nameClash(
    name: string,
    type: FamilyType,
    pending: ReadonlyMap<string, Family>,
  ): string | undefined {
    const mine = new Set(printedNames(name, type));
    const others: { name: string; type: string }[] = [];
    for (const metric of this.registry.getMetricsAsArray()) {
      const m = metric as unknown as { name: string; type?: string };
      others.push({ name: m.name, type: m.type ?? 'gauge' });
    }
    for (const f of pending.values()) others.push({ name: f.name, type: f.type });
    for (const other of others) {
      for (const printed of printedNames(other.name, other.type)) {
        if (mine.has(printed)) return `the name "${printed}" is taken by the ${other.type} "${other.name}"`;
      }
    }
    return undefined;
  }
}

/**
 * The cluster primary's own metrics, printed beside the workers' aggregated ones: how many workers
 * are wanted and serving, and how many were replaced. Never a name a worker prints.
 */
export class PrimaryMetrics {
  readonly registry = new Registry();
  private readonly workers: Family;
  private readonly restarts: Family;
  private readonly desired: Series;
  private readonly serving: Series;
  private readonly restarted: Series;

  constructor() {
    this.workers = new Family(
      WORKERS_METRIC,
      'gauge',
      'Worker processes: state="desired" is --workers, state="serving" those listening now',
    );
    this.restarts = new Family(
      WORKER_RESTARTS_METRIC,
      'counter',
      'Worker processes started to replace one that exited',
    );
    this.desired = this.workers.handle('desired', { state: 'desired' });
    this.serving = this.workers.handle('serving', { state: 'serving' });
    this.restarted = this.restarts.handle('', {});
    // prom-client's Registry takes any object with name/get/reset; its typings only list its own classes.
    this.registry.registerMetric(this.workers as unknown as Metric<string>);
    this.registry.registerMetric(this.restarts as unknown as Metric<string>);
  }

  setWorkers(desired: number, serving: number): void {
    this.desired.value = desired;
    this.serving.value = serving;
  }

  countRestart(): void {
    this.restarted.value++;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
