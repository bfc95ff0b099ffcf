/**
 * What the Grafana dashboards (deploy/grafana/*.json) query, for test/deploy/grafana.test.ts: the metric
 * names (DASHBOARD_METRICS), those not served yet with the reason (PENDING), the request-histogram labels
 * they group by, and the PromQL metric-name extractor that reads the dashboards' expressions.
 */

/** Every metric name the dashboards query (histograms by their _bucket/_sum/_count series). */
export const DASHBOARD_METRICS: readonly string[] = [
  // The request histogram (src/serve/metrics.ts), as Seldon's executor names it.
  'seldon_api_executor_server_requests_seconds_bucket',
  'seldon_api_executor_server_requests_seconds_count',
  'seldon_api_executor_server_requests_seconds_sum',
  'segserve_predictions_total',
  'segserve_model_info',
  // The cluster primary's own metrics (PrimaryMetrics, printed in one process too).
  'segserve_workers',
  'segserve_worker_restarts_total',
  // Seldon's feedback counters (after a feedback call).
  'seldon_api_model_feedback_total',
  'seldon_api_model_feedback_reward_total',
  // Payload logging (src/serve/payload-log.ts).
  'segserve_payload_log_events_total',
  // Drift (issue 12).
  'segserve_feature_drift_psi',
  'segserve_feature_missing_rate',
  'segserve_feature_unknown_category_rate',
  'segserve_predicted_class_share',
  'segserve_training_class_share',
  // Node process metrics (prom-client's default metrics).
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_eventloop_lag_p99_seconds',
];

/** Names the dashboards query that the server does not export yet, and why. */
export const PENDING: Readonly<Record<string, string>> = {};

/** Labels the dashboards group the request histogram by. */
export const REQUEST_LABELS: readonly string[] = ['service', 'code', 'le', 'protocol'];
export const PENDING_LABELS: Readonly<Record<string, string>> = {};

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
  'atan2',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression reads: identifiers outside strings, label matchers, ranges and
 * label lists, not followed by `(` (functions, aggregations), not PromQL keywords or parts of numbers.
 */
export function metricNames(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = m[0];
    const at = m.index ?? 0;
    if (/^\s*\(/.test(s.slice(at + name.length))) continue;
    if (PROMQL_WORDS.has(name.toLowerCase())) continue;
    if (at > 0 && /[0-9.]/.test(s[at - 1] as string)) continue;
    names.add(name);
  }
  return [...names].sort();
}

/** The metric names of a Grafana query variable's query (label_values / query_result / metrics). */
export function variableMetricNames(query: string): string[] {
  const q = query.trim();
  const lv = /^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$/s.exec(q);
  if (lv) return metricNames(lv[1] as string);
  if (/^label_values\(\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$/.test(q) || /^(?:metrics|label_names)\(/.test(q))
    return [];
  const qr = /^query_result\((.*)\)$/s.exec(q);
  return metricNames(qr ? (qr[1] as string) : q);
}
