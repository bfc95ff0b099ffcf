/**
 * Drift gauges: the served model's window of recent rows (src/pipeline/drift.ts DriftWindow) against
 * its training reference (`training.drift` of the artifact), computed at scrape time (prom-client
 * `collect()` callbacks), never per request. A prediction only copies its encoded rows into the
 * window (F doubles a row) and the decoder's unknown-category counts.
 *
 *   segserve_feature_drift_psi{feature}               PSI of the window against training
 *   segserve_feature_missing_rate{feature}            share of window rows missing the feature
 *   segserve_feature_unknown_category_rate{feature}   categorical features: unknown categories per row
 *   segserve_predicted_class_share{segment}           share of window rows predicted in each class
 *   segserve_training_class_share{segment}            the same share over the training rows
 *   segserve_drift_window_rows                        rows in the window (at most --drift-window)
 *
 * Label values come from the model's schema only (feature names; class labels bounded as for
 * `segserve_predictions_total`, see metrics-classes.ts), never from request data. A model without a
 * drift reference (format version 1) or a component without the forest shows none of these series;
 * an empty window shows only `segserve_drift_window_rows 0`.
 *
 * The gauges are registered once per registry (the registry outlives hot swaps: the CLI builds every
 * app of a process on one ServeMetrics), and show the newest model's window: each runtime's tracker
 * takes the gauges over when it is created, so a reloaded model reports its own window (starting
 * empty) and the old one, still finishing its requests, can no longer take them back. With
 * `--workers N`, the cluster primary averages each series over the workers (each has its own window;
 * since the PSI is convex in the window's shares, the average of the workers' PSIs is never below
 * the PSI of their rows pooled), and sums the window rows.
 */
import { Gauge, type Registry } from 'prom-client';
import { type DriftReference, type DriftReport, DriftWindow, type FeatureDrift } from '../pipeline/drift.js';
import type { Category } from '../pipeline/types.js';
import { classLabelValues } from './metrics-classes.js';

export { DEFAULT_DRIFT_WINDOW, MAX_DRIFT_WINDOW } from './constants.js';

export const DRIFT_PSI_METRIC = 'segserve_feature_drift_psi';
export const MISSING_RATE_METRIC = 'segserve_feature_missing_rate';
export const UNKNOWN_RATE_METRIC = 'segserve_feature_unknown_category_rate';
export const PREDICTED_SHARE_METRIC = 'segserve_predicted_class_share';
export const TRAINING_SHARE_METRIC = 'segserve_training_class_share';
export const WINDOW_ROWS_METRIC = 'segserve_drift_window_rows';

/**
 * One model's drift window and reference: what a runtime adds its predicted rows to. `add` is the
 * only per-request call; the report is computed when the gauges are scraped.
 */
export class DriftTracker {
  readonly window: DriftWindow;
  readonly reference: DriftReference;
  /** Feature names, in the model's order (label values). */
  readonly features: readonly string[];
  /** Which features are categorical (they alone get an unknown-category rate). */
  readonly categorical: readonly boolean[];
  /** Label value of each class column (bounded). */
  readonly classLabels: readonly string[];
  /** Counts the adds: a report computed at one count holds until the next add. */
  adds = 0;

  constructor(
    reference: DriftReference,
    features: readonly { name: string; kind: 'numeric' | 'categorical' }[],
    classes: readonly Category[],
    capacity: number,
    /** Creation order among this registry's trackers: the newest shows on the gauges. */
    readonly generation: number,
  ) {
    this.reference = reference;
    this.features = features.map((f) => f.name);
    this.categorical = features.map((f) => f.kind === 'categorical');
    this.classLabels = classLabelValues(classes);
    this.window = new DriftWindow(features.length, classes.length, capacity);
  }

  /**
   * Adds n encoded rows (row-major n × F) with their probabilities (n × K) and the unknown categories
   * the decoder counted in them (per feature; set back to 0 here).
   */
  add(x: Float64Array, n: number, proba: Float64Array, unknown?: Uint32Array): void {
    const w = this.window;
    if (unknown !== undefined) {
      for (let j = 0; j < unknown.length; j++) {
        const c = unknown[j] as number;
        if (c > 0) {
          w.countUnknown(j, c);
          unknown[j] = 0;
        }
      }
    }
    w.add(x, n, proba);
    this.adds++;
  }

  /** The window's figures now. */
  report(): DriftReport {
    return this.window.report(this.reference);
  }
}

/** The drift gauges of one registry and the tracker they show. */
export class DriftGauges {
  /** The tracker shown, if any. */
  current: DriftTracker | undefined;
  private generation = -1;
  private created = 0;
  /** The last report computed (for all gauges of a scrape), of `cachedFor` after `cachedAdds` adds. */
  private cached: DriftReport | undefined;
  private cachedFor: DriftTracker | undefined;
  private cachedAdds = -1;

  constructor(registry: Registry) {
    const gauges = this;
    const feature = ['feature'];
    const segment = ['segment'];
    const report = (): { tracker: DriftTracker; report: DriftReport } | undefined => {
      const tracker = gauges.current;
      if (tracker === undefined) return undefined;
      if (gauges.cached === undefined || gauges.cachedFor !== tracker || gauges.cachedAdds !== tracker.adds) {
        gauges.cached = tracker.report();
        gauges.cachedFor = tracker;
        gauges.cachedAdds = tracker.adds;
      }
      return gauges.cached.rows > 0 ? { tracker, report: gauges.cached } : undefined;
    };
    // One gauge per figure of the features, set from the scrape's report.
    const perFeature = (pick: (f: FeatureDrift) => number, categoricalOnly = false) =>
      function collect(this: Gauge<string>): void {
        this.reset();
        const r = report();
        if (!r) return;
        r.report.features.forEach((f, j) => {
          if (!categoricalOnly || r.tracker.categorical[j]) this.set({ feature: f.name }, pick(f));
        });
      };
    new Gauge({
      name: DRIFT_PSI_METRIC,
      help: 'Population stability index of the feature over the server window of recent rows (--drift-window) against the training data: < 0.1 stable, 0.1-0.25 watch, > 0.25 shifted',
      labelNames: feature,
      aggregator: 'average',
      registers: [registry],
      collect: perFeature((f) => f.psi),
    });
    new Gauge({
      name: MISSING_RATE_METRIC,
      help: 'Share of the rows in the server window of recent rows where the feature is missing (an unknown category read as missing included)',
      labelNames: feature,
      aggregator: 'average',
      registers: [registry],
      collect: perFeature((f) => f.missingRate),
    });
    new Gauge({
      name: UNKNOWN_RATE_METRIC,
      help: 'Categorical features: categories the model does not know per row, over the server window of recent rows (seen only when the model reads unknown categories as missing; otherwise such rows are refused)',
      labelNames: feature,
      aggregator: 'average',
      registers: [registry],
      collect: perFeature((f) => f.unknownRate, true),
    });
    const shares = (which: 'actual' | 'expected') =>
      function collect(this: Gauge<string>): void {
        this.reset();
        const r = report();
        if (!r) return;
        // Class columns beyond the label bound share one label value: their shares add up.
        const byLabel = new Map<string, number>();
        r.report.classShares[which].forEach((s, c) => {
          const label = r.tracker.classLabels[c] as string;
          byLabel.set(label, (byLabel.get(label) ?? 0) + s);
        });
        for (const [label, s] of byLabel) this.set({ segment: label }, s);
      };
    new Gauge({
      name: PREDICTED_SHARE_METRIC,
      help: 'Share of the rows in the server window of recent rows predicted in each class (segment), to compare with segserve_training_class_share',
      labelNames: segment,
      aggregator: 'average',
      registers: [registry],
      collect: shares('actual'),
    });
    new Gauge({
      name: TRAINING_SHARE_METRIC,
      help: 'Share of the training rows the served model predicts in each class (segment): the reference of segserve_predicted_class_share',
      labelNames: segment,
      aggregator: 'average',
      registers: [registry],
      collect: shares('expected'),
    });
    new Gauge({
      name: WINDOW_ROWS_METRIC,
      help: 'Rows in the server window of recent predicted rows that the drift gauges are computed over (at most --drift-window)',
      aggregator: 'sum',
      registers: [registry],
      collect() {
        this.reset();
        const tracker = gauges.current;
        if (tracker !== undefined) this.set(tracker.window.size);
      },
    });
  }

  /**
   * A tracker for one model's window; the gauges show it from now on (the newest tracker of a
   * registry is shown).
   */
  track(
    reference: DriftReference,
    features: readonly { name: string; kind: 'numeric' | 'categorical' }[],
    classes: readonly Category[],
    capacity: number,
  ): DriftTracker {
    const tracker = new DriftTracker(reference, features, classes, capacity, this.created++);
    if (tracker.generation > this.generation) {
      this.generation = tracker.generation;
      this.current = tracker;
    }
    return tracker;
  }

  /** Shows no window (a model without a drift reference was loaded after one with it). */
  forget(): void {
    this.generation = this.created++;
    this.current = undefined;
    this.cached = undefined;
    this.cachedFor = undefined;
  }
}

const byRegistry = new WeakMap<Registry, DriftGauges>();

/** The drift gauges of `registry`, registered on first use. */
export function driftGauges(registry: Registry): DriftGauges {
  let g = byRegistry.get(registry);
  if (g === undefined) {
    g = new DriftGauges(registry);
    byRegistry.set(registry, g);
  }
  return g;
}

/** The drift gauges of `registry` if they were registered, else undefined (nothing is registered). */
export function existingDriftGauges(registry: Registry): DriftGauges | undefined {
  return byRegistry.get(registry);
}
