/**
 * The documented defaults of the pipeline and the post's model, in one light module: the CLI reads
 * them to define its options at start-up without loading the modules that do the work.
 */

/** The default seed of every command: the post's publication date. */
export const DEFAULT_SEED = 20200413;
/** The author's notebook drew 5000 rows. */
export const DEFAULT_ROWS = 5000;
export const DEFAULT_DATA_PATH = 'data/customers.csv';
export const DEFAULT_MODEL_PATH = 'artifacts/model.json';

/** The post's model: segment ~ age + income + response + events, response and events ordinal-encoded. */
export const FEATURES = ['age', 'income', 'response', 'events'] as const;
export const CATEGORICAL: ReadonlySet<string> = new Set(['response', 'events']);
export const TARGET = 'segment';
