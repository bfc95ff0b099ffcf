/**
 * Open Inference Protocol (v2) answers for the model of the fast path: its metadata (one input per
 * feature with its wire datatype, plus one [N, F] input when every feature is a number on the wire;
 * the outputs) and the inference answer as JSON text built without intermediate arrays:
 * `probabilities` (FP64 [N, K], the class order in its `parameters.classes`) and the predicted class
 * label (named after the model's target, e.g. `segment`; INT64 for integer labels, BYTES for strings).
 * A forest also answers, when a request's `outputs` names them, its exact TreeSHAP explanation:
 * `shap_values` (FP64 [N, K, F], classes and features in its parameters) and `expected_value`
 * (FP64 [K]).
 */
import { argmax } from '../../pipeline/model.js';
import type { Category, FeatureInfo } from '../../pipeline/types.js';
import { EXPECTED_OUTPUT, type Explanation, SHAP_OUTPUT } from '../explain.js';

/** The name of the single [N, F] input in the metadata (any name is accepted in a request). */
export const MATRIX_INPUT = 'input-0';
export const PROBABILITIES_OUTPUT = 'probabilities';
export { EXPECTED_OUTPUT, SHAP_OUTPUT };

/** The datatype a feature takes on the wire: FP64 numeric, INT64 integer categories, BYTES strings. */
export function featureDatatype(f: FeatureInfo): 'FP64' | 'INT64' | 'BYTES' {
  if (f.kind === 'numeric') return 'FP64';
  const categories = f.categories ?? [];
  if (categories.some((c) => typeof c === 'string')) return 'BYTES';
  return categories.every((c) => Number.isInteger(c)) ? 'INT64' : 'FP64';
}

/** The datatype of the predicted label output: BYTES for string labels, INT64 for integers, else FP64. */
export function labelDatatype(classes: readonly Category[]): 'FP64' | 'INT64' | 'BYTES' {
  if (classes.some((c) => typeof c === 'string')) return 'BYTES';
  return classes.every((c) => Number.isInteger(c)) ? 'INT64' : 'FP64';
}

/**
 * The label output's name: the model's target (the post's "segment"), or "label" if that cannot be
 * (the target is called like another output).
 */
export function labelOutputName(target: string): string {
  return target === '' ||
    target === PROBABILITIES_OUTPUT ||
    target === SHAP_OUTPUT ||
    target === EXPECTED_OUTPUT
    ? 'label'
    : target;
}

/** How the model of the fast path looks on the wire. */
export class ForestOutputs {
  /** The outputs answered when a request names none, in answer order. */
  readonly names: readonly string[];
  /** Every output a request may name (the explanation's too, when the model is explained). */
  readonly all: readonly string[];
  readonly labelName: string;
  /** Whether every feature is a number on the wire (the [N, F] input is offered). */
  readonly matrix: boolean;
  /** Features that take strings on the wire. */
  readonly stringFeatures: readonly string[];
  private readonly k: number;
  private readonly labelsJson: readonly string[];
  private readonly probabilitiesHead: string;
  private readonly probabilitiesTail: string;
  private readonly labelHead: string;
  private readonly shapHead: string;
  private readonly expectedHead: string;

  constructor(
    private readonly features: readonly FeatureInfo[],
    private readonly classes: readonly Category[],
    target: string,
    /** Whether the model is explained (shap_values and expected_value may be asked for). */
    readonly explained = false,
  ) {
    this.labelName = labelOutputName(target);
    this.names = [PROBABILITIES_OUTPUT, this.labelName];
    this.all = explained ? [...this.names, SHAP_OUTPUT, EXPECTED_OUTPUT] : this.names;
    this.stringFeatures = features.filter((f) => featureDatatype(f) === 'BYTES').map((f) => f.name);
    this.matrix = this.stringFeatures.length === 0;
    this.k = classes.length;
    this.labelsJson = classes.map((c) => JSON.stringify(c));
    this.probabilitiesHead = `{"name":"${PROBABILITIES_OUTPUT}","datatype":"FP64","shape":[`;
    this.probabilitiesTail = `],"parameters":{"classes":${JSON.stringify(classes)}},"data":[`;
    this.labelHead = `{"name":${JSON.stringify(this.labelName)},"datatype":"${labelDatatype(classes)}","shape":[`;
    const classesJson = JSON.stringify(classes);
    const featuresJson = JSON.stringify(features.map((f) => f.name));
    this.shapHead = `{"name":"${SHAP_OUTPUT}","datatype":"FP64","parameters":{"classes":${classesJson},"features":${featuresJson}},"shape":[`;
    this.expectedHead = `{"name":"${EXPECTED_OUTPUT}","datatype":"FP64","parameters":{"classes":${classesJson}},"shape":[`;
  }

  /** Whether answering `wanted` needs the explanation. */
  explains(wanted: readonly string[]): boolean {
    return this.explained && (wanted.includes(SHAP_OUTPUT) || wanted.includes(EXPECTED_OUTPUT));
  }

  /** The model metadata's inputs and outputs (shape -1 for the batch). */
  metadata(): { inputs: unknown[]; outputs: unknown[] } {
    const inputs: unknown[] = this.features.map((f) => ({
      name: f.name,
      datatype: featureDatatype(f),
      shape: [-1],
    }));
    if (this.matrix) inputs.push({ name: MATRIX_INPUT, datatype: 'FP64', shape: [-1, this.features.length] });
    const outputs: unknown[] = [
      { name: PROBABILITIES_OUTPUT, datatype: 'FP64', shape: [-1, this.k] },
      { name: this.labelName, datatype: labelDatatype(this.classes), shape: [-1] },
    ];
    if (this.explained) {
      outputs.push(
        { name: SHAP_OUTPUT, datatype: 'FP64', shape: [-1, this.k, this.features.length] },
        { name: EXPECTED_OUTPUT, datatype: 'FP64', shape: [this.k] },
      );
    }
    return { inputs, outputs };
  }

  /**
   * JSON text of the wanted outputs for n rows of probabilities in `out` (n × k), and their
   * explanation when an explanation output is wanted.
   */
  outputs(wanted: readonly string[], out: Float64Array, n: number, explanation?: Explanation): string {
    const k = this.k;
    let s = '';
    for (let o = 0; o < wanted.length; o++) {
      if (o > 0) s += ',';
      const name = wanted[o];
      if (name === PROBABILITIES_OUTPUT) {
        s += `${this.probabilitiesHead}${n},${k}${this.probabilitiesTail}`;
        const size = n * k;
        for (let i = 0; i < size; i++) s += i === 0 ? `${out[i]}` : `,${out[i]}`;
      } else if (name === SHAP_OUTPUT) {
        const e = explanation as Explanation;
        const size = n * k * e.nFeatures;
        s += `${this.shapHead}${n},${k},${e.nFeatures}],"data":[`;
        const v = e.values;
        for (let i = 0; i < size; i++) s += i === 0 ? `${v[i]}` : `,${v[i]}`;
      } else if (name === EXPECTED_OUTPUT) {
        const e = (explanation as Explanation).expected;
        s += `${this.expectedHead}${k}],"data":[`;
        for (let c = 0; c < k; c++) s += c === 0 ? `${e[c]}` : `,${e[c]}`;
      } else {
        s += `${this.labelHead}${n}],"data":[`;
        for (let i = 0; i < n; i++) {
          const best = this.labelsJson[argmax(out, i * k, k)];
          s += i === 0 ? best : `,${best}`;
        }
      }
      s += ']}';
    }
    return s;
  }
}
