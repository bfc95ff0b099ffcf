/**
 * The label values of the predictions counter (`segserve_predictions_total{segment}`), one per class
 * column, bounded whatever the model: the first MAX_CLASS_LABELS class labels (in probability-column
 * order) get their own value, every further class is counted under one overflow value. Label values
 * come from the model's schema, never from request data.
 */
import type { Category } from '../pipeline/types.js';

/** Most class labels that get a series of their own. */
export const MAX_CLASS_LABELS = 100;

/** The overflow label value: "other", or the first of "_other", "__other", … no kept class label takes. */
export function overflowLabel(kept: ReadonlySet<string>): string {
  let label = 'other';
  while (kept.has(label)) label = `_${label}`;
  return label;
}

/**
 * The label value of each class column: `String(label)` for the first `max` columns, the overflow
 * value for the rest. Columns that share a value share a series (their counts add up).
 */
export function classLabelValues(classes: readonly Category[], max = MAX_CLASS_LABELS): string[] {
  const values = classes.map(String);
  if (values.length <= max) return values;
  const kept = values.slice(0, max);
  const other = overflowLabel(new Set(kept));
  return [...kept, ...new Array<string>(values.length - max).fill(other)];
}
