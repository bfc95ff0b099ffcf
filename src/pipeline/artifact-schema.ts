/**
 * The model artifact's one definition (format version 2): TypeBox builds both the TypeScript types and
 * the JSON Schema from it. `schema/model.schema.json` is this schema written out (`npm run schema`;
 * a test checks the committed file is what this generates). docs/model-format.md explains each field.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { DriftReferenceT } from './drift.js';

export const FORMAT_NAME = 'segserve-model';
export const FORMAT_VERSION = 2;

const strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const Category = Type.Union([Type.String(), Type.Number()], {
  description: 'A category or class label: a string, or a number when every value is a number.',
});

const Feature = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    kind: Type.Union([Type.Literal('numeric'), Type.Literal('categorical')]),
    categories: Type.Optional(
      Type.Array(Category, {
        minItems: 1,
        description: 'Categorical only: sorted and distinct; categories[i] is encoded as i.',
      }),
    ),
    missing: Type.Integer({ minimum: 0, description: 'Training rows where the feature was missing.' }),
    allowMissing: Type.Optional(
      Type.Boolean({ description: 'Whether requests may leave it missing (absent = true).' }),
    ),
  },
  strict,
);

export const ModelSchemaT = Type.Object(
  {
    target: Type.String({ minLength: 1 }),
    features: Type.Array(Feature, { minItems: 1 }),
    classes: Type.Array(Category, { minItems: 1, description: 'Sorted; the probability columns.' }),
    unknownCategory: Type.Union([Type.Literal('error'), Type.Literal('missing')]),
    naValues: Type.Optional(
      Type.Array(Type.String(), { description: 'CSV cells read as missing in training (and by predict).' }),
    ),
  },
  strict,
);

export const ParamsT = Type.Object(
  {
    n_estimators: Type.Integer({ minimum: 1 }),
    max_depth: Nullable(Type.Integer({ minimum: 1 })),
    min_samples_split: Type.Integer({ minimum: 2 }),
    min_samples_leaf: Type.Integer({ minimum: 1 }),
    max_features: Type.Union([
      Type.Union([Type.Literal('sqrt'), Type.Literal('log2'), Type.Literal('all')]),
      Type.Number({ exclusiveMinimum: 0 }),
    ]),
    bootstrap: Type.Boolean(),
    class_weight: Type.Optional(
      Nullable(Type.Union([Type.Literal('balanced'), Type.Literal('balanced_subsample')])),
    ),
  },
  strict,
);

const IntArray = (minimum: number) => Type.Array(Type.Integer({ minimum }), { minItems: 1 });

const TreeT = Type.Object(
  {
    feature: IntArray(-1),
    threshold: Type.Array(Type.Number(), { minItems: 1 }),
    left: IntArray(-1),
    right: IntArray(-1),
    missingLeft: Type.Array(Type.Integer({ minimum: 0, maximum: 1 }), {
      minItems: 1,
      description: '1: a missing value goes to the left child; 0: right.',
    }),
    value: Type.Array(Type.Number({ minimum: 0 }), {
      minItems: 1,
      description: 'nodes × classes weighted class counts of the training samples.',
    }),
  },
  strict,
);

const Scoring = Type.Union(
  ['accuracy', 'neg_mean_absolute_error', 'neg_log_loss', 'balanced_accuracy', 'f1_macro', 'roc_auc'].map(
    (s) => Type.Literal(s),
  ),
);

const CandidateT = Type.Object(
  {
    params: ParamsT,
    meanScore: Type.Number(),
    sdScore: Type.Number(),
    foldScores: Type.Array(Type.Number()),
  },
  strict,
);

const SearchT = Type.Object(
  {
    nIter: Type.Integer({ minimum: 1 }),
    cv: Type.Integer({ minimum: 2 }),
    scoring: Scoring,
    space: Type.Record(Type.String(), Type.Array(Type.Unknown())),
    candidates: Type.Array(CandidateT),
    bestIndex: Type.Integer({ minimum: 0 }),
  },
  strict,
);

const ClassScoresT = Type.Object(
  {
    precision: Type.Number({ minimum: 0, maximum: 1 }),
    recall: Type.Number({ minimum: 0, maximum: 1 }),
    f1: Type.Number({ minimum: 0, maximum: 1 }),
    support: Type.Integer({ minimum: 0 }),
  },
  strict,
);

export const EvaluationT = Type.Object(
  {
    accuracy: Type.Number({ minimum: 0, maximum: 1 }),
    balancedAccuracy: Type.Number({ minimum: 0, maximum: 1 }),
    macroF1: Type.Number({ minimum: 0, maximum: 1 }),
    perClass: Type.Array(ClassScoresT),
    majorityBaseline: Type.Object(
      { label: Category, accuracy: Type.Number({ minimum: 0, maximum: 1 }) },
      strict,
    ),
  },
  strict,
);

const TrainingT = Type.Object(
  {
    seed: Type.Integer({ minimum: 0 }),
    data: Type.Object(
      {
        path: Type.String(),
        sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
        rows: Type.Integer({ minimum: 1 }),
      },
      strict,
    ),
    split: Type.Object(
      {
        testSize: Nullable(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
        stratified: Type.Boolean(),
        testData: Nullable(
          Type.Object(
            {
              path: Type.String(),
              sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
              rows: Type.Integer({ minimum: 1 }),
            },
            strict,
          ),
        ),
        trainRows: Type.Integer({ minimum: 1 }),
        testRows: Type.Integer({ minimum: 1 }),
      },
      strict,
    ),
    search: Nullable(SearchT),
    cvScore: Nullable(Type.Number()),
    cvScoreSd: Nullable(Type.Number()),
    testAccuracy: Type.Number({ minimum: 0, maximum: 1 }),
    evaluation: EvaluationT,
    confusionMatrix: Type.Array(Type.Array(Type.Integer({ minimum: 0 }))),
    featureImportances: Type.Array(Type.Number()),
    shapImportance: Type.Optional(
      Type.Object(
        {
          rows: Type.Integer({ minimum: 1 }),
          values: Type.Array(Type.Array(Type.Number({ minimum: 0 })), {
            description: 'classes × features: mean |SHAP value| over the first `rows` test rows.',
          }),
        },
        strict,
      ),
    ),
    drift: Type.Optional(DriftReferenceT),
  },
  strict,
);

export const ArtifactT = Type.Object(
  {
    format: Type.Object({ name: Type.Literal(FORMAT_NAME), version: Type.Literal(FORMAT_VERSION) }, strict),
    segserveVersion: Type.String(),
    schema: ModelSchemaT,
    params: ParamsT,
    forest: Type.Object({ trees: Type.Array(TreeT, { minItems: 1 }) }, strict),
    training: TrainingT,
    digest: Type.String({
      pattern: '^sha256:[0-9a-f]{64}$',
      description: 'sha256 of the artifact serialised without this key (see docs/model-format.md).',
    }),
  },
  {
    ...strict,
    $id: 'https://segserve.dev/schema/model/2.json',
    title: 'segserve model artifact, format version 2',
    description:
      'The data schema, an ordinal encoder and a random forest classifier, with the facts of its training. See docs/model-format.md.',
  },
);

export type Artifact = Static<typeof ArtifactT>;
export type TreeJson = Static<typeof TreeT>;
export type TrainingFacts = Static<typeof TrainingT>;
export type SearchFacts = Static<typeof SearchT>;
export type CandidateResult = Static<typeof CandidateT>;
export type Evaluation = Static<typeof EvaluationT>;
export type ArtifactParams = Static<typeof ParamsT>;

/** The JSON Schema text committed as schema/model.schema.json. */
export function artifactJsonSchema(): string {
  return `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...ArtifactT }, null, 2)}\n`;
}
