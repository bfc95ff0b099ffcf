/**
 * The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`) with a real @grpc/grpc-js
 * client: every RPC, typed `contents` and `raw_input_contents` / `raw_output_contents`, per-column and
 * [N, F] inputs, id echo, requested outputs; parity with REST (the same rows through app.inject give
 * bit-identical probabilities) for the trained fixture model, the post's model and a penguins-like one
 * (string categories and labels); INVALID_ARGUMENT naming row and column, NOT_FOUND for an unknown model.
 */
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadArtifact } from '../../src/pipeline/artifact.js';
import { ForestComponent } from '../../src/serve/component.js';
import { ERROR_CODE_KEY, REASON_KEY } from '../../src/serve/grpc/status.js';
import { VERSION } from '../../src/version.js';
import { FakeModel, PENGUIN_SCHEMA } from './fake-model.js';
import {
  bytesOf,
  call,
  callError,
  doublesOf,
  rawBytes,
  rawFp64,
  rawInt64,
  type Served,
  sameBits,
  serve,
} from './grpc-helpers.js';
import { postJson } from './helpers.js';

const INFER = '/v2/models/segserve/infer';
const POST_ROWS = [
  [34.0, 100.0, 1, 2],
  [61.0, 25.5, 0, 0],
  [19.0, 250.0, 1, 6],
  [45.5, 80.25, 0, 3],
];
const POST_NAMES = ['age', 'income', 'response', 'events'];
const POST_TYPES = ['FP64', 'FP64', 'INT64', 'INT64'];

interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, { string_param?: string }>;
  contents?: { fp64_contents?: number[]; int64_contents?: number[]; bytes_contents?: Buffer[] };
}
interface InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: Tensor[];
  raw_output_contents?: Buffer[];
}

const column = (rows: readonly (readonly unknown[])[], j: number) => rows.map((r) => r[j]);

/** Typed per-column inputs of rows. */
function typedInputs(
  rows: readonly (readonly unknown[])[],
  names: readonly string[],
  types: readonly string[],
) {
  return names.map((name, j) => {
    const values = column(rows, j);
    const dt = types[j] as string;
    const contents =
      dt === 'BYTES'
        ? { bytes_contents: values.map((v) => Buffer.from(String(v))) }
        : dt === 'INT64'
          ? { int64_contents: values }
          : { fp64_contents: values.map((v) => (v === null ? Number.NaN : v)) };
    return { name, datatype: dt, shape: [rows.length], contents };
  });
}

/** The same inputs, raw. */
function rawInputs(
  rows: readonly (readonly unknown[])[],
  names: readonly string[],
  types: readonly string[],
) {
  const inputs = names.map((name, j) => ({ name, datatype: types[j], shape: [rows.length] }));
  const raw = names.map((_, j) => {
    const values = column(rows, j);
    if (types[j] === 'BYTES') return rawBytes(values.map(String));
    if (types[j] === 'INT64') return rawInt64(values as number[]);
    return rawFp64(values.map((v) => (v === null ? Number.NaN : (v as number))));
  });
  return { inputs, raw_input_contents: raw };
}

/** The same rows over REST: per-column JSON inputs (null for missing). */
async function restProbabilities(
  s: Served,
  rows: readonly (readonly unknown[])[],
  names: readonly string[],
  types: readonly string[],
): Promise<number[]> {
  const res = await postJson(s.app, INFER, {
    inputs: names.map((name, j) => ({
      name,
      datatype: types[j],
      shape: [rows.length],
      data: column(rows, j),
    })),
  });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as { outputs: { name: string; data: number[] }[] };
  return body.outputs.find((o) => o.name === 'probabilities')?.data ?? [];
}

function outputOf(res: InferResponse, name: string): Tensor {
  const found = res.outputs.find((o) => o.name === name);
  expect(found, `output ${name}`).toBeDefined();
  return found as Tensor;
}

function rawOutput(res: InferResponse, name: string): Buffer {
  const at = res.outputs.findIndex((o) => o.name === name);
  expect(at).toBeGreaterThanOrEqual(0);
  const buf = res.raw_output_contents?.[at];
  expect(buf, `raw_output_contents[${at}]`).toBeDefined();
  return buf as Buffer;
}

describe('the post model (FakeModel): every RPC', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve(new ForestComponent(new FakeModel()), { modelVersion: 'v-abc' });
  });
  afterAll(() => s.close());

  test('ServerLive, ServerReady, ServerMetadata', async () => {
    expect(await call(s.clients.oip, 'ServerLive', {})).toEqual({ live: true });
    expect(await call(s.clients.oip, 'ServerReady', {})).toEqual({ ready: true });
    expect(await call(s.clients.oip, 'ServerMetadata', {})).toEqual({ name: 'segserve', version: VERSION });
  });

  test('ModelReady: true for this model and version; NOT_FOUND for another model or version', async () => {
    expect(await call(s.clients.oip, 'ModelReady', { name: 'segserve' })).toEqual({ ready: true });
    expect(await call(s.clients.oip, 'ModelReady', { name: 'segserve', version: 'v-abc' })).toEqual({
      ready: true,
    });
    const other = await callError(s.clients.oip, 'ModelReady', { name: 'iris' });
    expect(other.code).toBe(status.NOT_FOUND);
    expect(other.details).toMatch(/unknown model "iris"/);
    const version = await callError(s.clients.oip, 'ModelReady', { name: 'segserve', version: 'v9' });
    expect(version.code).toBe(status.NOT_FOUND);
    expect(version.metadata.get(ERROR_CODE_KEY)).toEqual(['NOT_FOUND']);
  });

  test('ModelMetadata equals GET /v2/models/segserve', async () => {
    const rest = (await s.app.inject({ method: 'GET', url: '/v2/models/segserve' })).json() as {
      inputs: { name: string; datatype: string; shape: number[] }[];
      outputs: { name: string; datatype: string; shape: number[] }[];
      versions: string[];
      platform: string;
    };
    const res = await call<{
      name: string;
      versions: string[];
      platform: string;
      inputs: { name: string; datatype: string; shape: string[] }[];
      outputs: { name: string; datatype: string; shape: string[] }[];
    }>(s.clients.oip, 'ModelMetadata', { name: 'segserve' });
    const numeric = (list: { name: string; datatype: string; shape: string[] }[]) =>
      list.map((t) => ({ ...t, shape: t.shape.map(Number) }));
    expect(res.name).toBe('segserve');
    expect(res.versions).toEqual(rest.versions);
    expect(res.platform).toBe(rest.platform);
    expect(numeric(res.inputs)).toEqual(rest.inputs);
    expect(numeric(res.outputs)).toEqual(rest.outputs);
    expect((await callError(s.clients.oip, 'ModelMetadata', { name: 'x' })).code).toBe(status.NOT_FOUND);
  });

  test('ModelInfer, typed per-column inputs: REST parity bit for bit, id echoed, label and classes', async () => {
    const res = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      id: 'req-42',
      inputs: typedInputs(POST_ROWS, POST_NAMES, POST_TYPES),
    });
    expect(res.model_name).toBe('segserve');
    expect(res.model_version).toBe('v-abc');
    expect(res.id).toBe('req-42');
    expect(res.raw_output_contents ?? []).toEqual([]);
    const p = outputOf(res, 'probabilities');
    expect(p.datatype).toBe('FP64');
    expect(p.shape).toEqual([4, 3]);
    expect(JSON.parse(p.parameters?.classes?.string_param ?? '')).toEqual([0, 1, 2]);
    const rest = await restProbabilities(s, POST_ROWS, POST_NAMES, POST_TYPES);
    expect(rest).toHaveLength(12);
    expect(sameBits(p.contents?.fp64_contents ?? [], rest)).toBe(true);
    const label = outputOf(res, 'segment');
    expect(label.datatype).toBe('INT64');
    const probs = p.contents?.fp64_contents ?? [];
    const best = [0, 1, 2, 3].map((i) => {
      const row = probs.slice(i * 3, i * 3 + 3);
      return row.indexOf(Math.max(...row));
    });
    expect(label.contents?.int64_contents).toEqual(best);
  });

  test('ModelInfer, raw inputs: raw outputs, bit-identical to REST', async () => {
    const res = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      ...rawInputs(POST_ROWS, POST_NAMES, POST_TYPES),
    });
    expect(outputOf(res, 'probabilities').contents).toBeUndefined();
    expect(res.raw_output_contents).toHaveLength(2);
    const probs = doublesOf(rawOutput(res, 'probabilities'));
    expect(sameBits(probs, await restProbabilities(s, POST_ROWS, POST_NAMES, POST_TYPES))).toBe(true);
    const labels = rawOutput(res, 'segment');
    expect(labels.length).toBe(4 * 8);
    expect([0, 1, 2, 3].map((i) => Number(labels.readBigInt64LE(i * 8)))).toEqual(
      [0, 1, 2, 3].map((i) => {
        const row = probs.slice(i * 3, i * 3 + 3);
        return row.indexOf(Math.max(...row));
      }),
    );
  });

  test('ModelInfer, one [N, F] FP64 input (typed and raw), columns in any order, requested outputs', async () => {
    const flat = POST_ROWS.flat();
    const typed = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      inputs: [{ name: 'input-0', datatype: 'FP64', shape: [4, 4], contents: { fp64_contents: flat } }],
      outputs: [{ name: 'probabilities' }],
    });
    expect(typed.outputs.map((o) => o.name)).toEqual(['probabilities']);
    const rest = await restProbabilities(s, POST_ROWS, POST_NAMES, POST_TYPES);
    expect(sameBits(outputOf(typed, 'probabilities').contents?.fp64_contents ?? [], rest)).toBe(true);
    const raw = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      inputs: [{ name: 'x', datatype: 'FP64', shape: [4, 4] }],
      raw_input_contents: [rawFp64(flat)],
      outputs: [{ name: 'segment' }, { name: 'probabilities' }],
    });
    expect(raw.outputs.map((o) => o.name)).toEqual(['segment', 'probabilities']);
    expect(sameBits(doublesOf(rawOutput(raw, 'probabilities')), rest)).toBe(true);
    const reordered = [3, 1, 0, 2];
    const shuffled = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      inputs: typedInputs(
        POST_ROWS.map((r) => reordered.map((j) => r[j])),
        reordered.map((j) => POST_NAMES[j] as string),
        reordered.map((j) => POST_TYPES[j] as string),
      ),
    });
    expect(sameBits(outputOf(shuffled, 'probabilities').contents?.fp64_contents ?? [], rest)).toBe(true);
  });

  test('FP32 and INT32 columns (typed and raw) are read as REST reads them', async () => {
    const types = ['FP32', 'FP64', 'INT32', 'INT32'];
    const rest = await restProbabilities(s, POST_ROWS, POST_NAMES, types);
    const inputs = POST_NAMES.map((name, j) => {
      const values = column(POST_ROWS, j) as number[];
      const contents =
        j === 0 ? { fp32_contents: values } : j === 1 ? { fp64_contents: values } : { int_contents: values };
      return { name, datatype: types[j], shape: [4], contents };
    });
    const typed = await call<InferResponse>(s.clients.oip, 'ModelInfer', { model_name: 'segserve', inputs });
    expect(sameBits(outputOf(typed, 'probabilities').contents?.fp64_contents ?? [], rest)).toBe(true);
    const raw = POST_NAMES.map((_, j) => {
      const values = column(POST_ROWS, j) as number[];
      const buf = Buffer.alloc(values.length * (j === 1 ? 8 : 4));
      values.forEach((v, i) => {
        if (j === 0) buf.writeFloatLE(v, i * 4);
        else if (j === 1) buf.writeDoubleLE(v, i * 8);
        else buf.writeInt32LE(v, i * 4);
      });
      return buf;
    });
    const res = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      inputs: inputs.map(({ contents: _, ...t }) => t),
      raw_input_contents: raw,
    });
    expect(sameBits(doublesOf(rawOutput(res, 'probabilities')), rest)).toBe(true);
  });

  test('an INT64 beyond 2^53 is refused, never rounded', async () => {
    const inputs = typedInputs([[34, 100, 1, 2]], POST_NAMES, POST_TYPES);
    (inputs[3] as { contents: unknown }).contents = { int64_contents: ['9007199254740993'] };
    const err = await callError(s.clients.oip, 'ModelInfer', { model_name: 'segserve', inputs });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/row 0, column "events": got 9007199254740992, expected an integer/);
  });

  test('bad input: INVALID_ARGUMENT naming input, row and column, with the catalogue code', async () => {
    const inputs = typedInputs(POST_ROWS, POST_NAMES, POST_TYPES);
    (inputs[3] as { contents: unknown }).contents = { int64_contents: [2, 0, 9, 3] };
    const err = await callError(s.clients.oip, 'ModelInfer', { model_name: 'segserve', inputs });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/input "events".*row 2, column "events": got 9/);
    expect(err.metadata.get(ERROR_CODE_KEY)).toEqual(['BAD_DATA']);
    expect(err.metadata.get(REASON_KEY)).toEqual(['MICROSERVICE_BAD_DATA']);
    // The same words as REST.
    const rest = await postJson(s.app, INFER, {
      inputs: POST_NAMES.map((name, j) => ({
        name,
        datatype: POST_TYPES[j],
        shape: [4],
        data: j === 3 ? [2, 0, 9, 3] : column(POST_ROWS, j),
      })),
    });
    expect(rest.statusCode).toBe(400);
    expect((rest.json() as { error: string }).error).toBe(err.details);
  });

  test.each([
    ['no inputs', { model_name: 'segserve', inputs: [] }, /"inputs" must hold at least one tensor/],
    [
      'values in the field of another datatype',
      {
        model_name: 'segserve',
        inputs: [
          { name: 'input-0', datatype: 'FP64', shape: [1, 4], contents: { int64_contents: [1, 2, 3, 4] } },
        ],
      },
      /datatype FP64 takes its values in contents.fp64_contents, not contents.int64_contents/,
    ],
    [
      'too few values for the shape',
      {
        model_name: 'segserve',
        inputs: [
          { name: 'input-0', datatype: 'FP64', shape: [2, 4], contents: { fp64_contents: [1, 2, 3, 4] } },
        ],
      },
      /contents.fp64_contents has 4 values, but shape \[2, 4\] needs 8/,
    ],
    [
      'a datatype inference does not take',
      {
        model_name: 'segserve',
        inputs: [
          { name: 'input-0', datatype: 'UINT8', shape: [1, 4], contents: { uint_contents: [1, 2, 3, 4] } },
        ],
      },
      /datatype UINT8 is not supported/,
    ],
    [
      'raw contents of the wrong size',
      {
        model_name: 'segserve',
        inputs: [{ name: 'input-0', datatype: 'FP64', shape: [1, 4] }],
        raw_input_contents: [Buffer.alloc(24)],
      },
      /raw_input_contents\[0\] has 24 bytes, but shape \[1, 4\] of FP64 needs 32/,
    ],
    [
      'raw contents for some inputs only',
      {
        model_name: 'segserve',
        inputs: typedInputs([[1, 2, 0, 0]], POST_NAMES, POST_TYPES),
        raw_input_contents: [rawFp64([1])],
      },
      /raw_input_contents has 1 entries but there are 4 inputs/,
    ],
    [
      'an unknown output',
      {
        model_name: 'segserve',
        inputs: typedInputs([[1, 2, 0, 0]], POST_NAMES, POST_TYPES),
        outputs: [{ name: 'logits' }],
      },
      /unknown output "logits": this model's outputs are probabilities, segment/,
    ],
    [
      'a feature that is not one',
      {
        model_name: 'segserve',
        inputs: [
          ...typedInputs([[1, 2, 0, 0]], POST_NAMES, POST_TYPES),
          { name: 'zip', datatype: 'FP64', shape: [1], contents: { fp64_contents: [1] } },
        ],
      },
      /input "zip" is not a feature of the model/,
    ],
  ])('%s → INVALID_ARGUMENT', async (_what, request, message) => {
    const err = await callError(s.clients.oip, 'ModelInfer', request);
    expect(err.code, err.details).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
  });

  test('an unknown model or version: NOT_FOUND', async () => {
    const inputs = typedInputs([[1, 2, 0, 0]], POST_NAMES, POST_TYPES);
    const err = await callError(s.clients.oip, 'ModelInfer', { model_name: 'iris', inputs });
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toMatch(/unknown model "iris": this server serves the model "segserve"/);
    const version = await callError(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      model_version: 'v0',
      inputs,
    });
    expect(version.code).toBe(status.NOT_FOUND);
    expect(version.details).toMatch(/has no version "v0" \(versions: v-abc\)/);
  });
});

describe('a penguins-like model: BYTES categories and string labels', () => {
  const NAMES = ['island', 'bill_length_mm', 'flipper_length_mm', 'body_mass_g', 'sex'];
  const TYPES = ['BYTES', 'FP64', 'FP64', 'FP64', 'BYTES'];
  const ROWS = [
    ['Biscoe', 45.1, 215, 5000, 'male'],
    ['Dream', 39.5, 190, 3650, 'female'],
    ['Torgersen', null, 181, null, 'female'],
    ['Biscoe', 50.2, null, 4800, 'male'],
  ];
  let s: Served;
  beforeAll(async () => {
    s = await serve(new ForestComponent(new FakeModel(PENGUIN_SCHEMA)));
  });
  afterAll(() => s.close());

  test('typed BYTES contents: REST parity, labels as BYTES, NaN = missing as null over REST', async () => {
    const res = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      inputs: typedInputs(ROWS, NAMES, TYPES),
    });
    const p = outputOf(res, 'probabilities');
    expect(p.shape).toEqual([4, 3]);
    expect(JSON.parse(p.parameters?.classes?.string_param ?? '')).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    const rest = await restProbabilities(s, ROWS, NAMES, TYPES);
    expect(sameBits(p.contents?.fp64_contents ?? [], rest)).toBe(true);
    const label = outputOf(res, 'species');
    expect(label.datatype).toBe('BYTES');
    const restLabels = (
      (
        await postJson(s.app, INFER, {
          inputs: NAMES.map((name, j) => ({ name, datatype: TYPES[j], shape: [4], data: column(ROWS, j) })),
          outputs: [{ name: 'species' }],
        })
      ).json() as { outputs: { data: string[] }[] }
    ).outputs[0]?.data;
    expect(label.contents?.bytes_contents?.map((b) => b.toString())).toEqual(restLabels);
  });

  test('raw BYTES inputs (4-byte length + bytes): raw outputs, labels as raw BYTES', async () => {
    const res = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      ...rawInputs(ROWS, NAMES, TYPES),
    });
    const probs = doublesOf(rawOutput(res, 'probabilities'));
    expect(sameBits(probs, await restProbabilities(s, ROWS, NAMES, TYPES))).toBe(true);
    const labels = bytesOf(rawOutput(res, 'species'));
    expect(labels).toHaveLength(4);
    for (const l of labels) expect(['Adelie', 'Chinstrap', 'Gentoo']).toContain(l);
  });

  test('an unknown category: INVALID_ARGUMENT naming row and column; truncated raw BYTES too', async () => {
    const rows = ROWS.map((r) => [...r]);
    (rows[1] as unknown[])[0] = 'Atlantis';
    const err = await callError(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      inputs: typedInputs(rows, NAMES, TYPES),
    });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/input "island".*row 1, column "island": got "Atlantis"/);
    const raw = rawInputs(ROWS, NAMES, TYPES);
    raw.raw_input_contents[0] = (raw.raw_input_contents[0] as Buffer).subarray(0, 12);
    const truncated = await callError(s.clients.oip, 'ModelInfer', { model_name: 'segserve', ...raw });
    expect(truncated.code).toBe(status.INVALID_ARGUMENT);
    expect(truncated.details).toMatch(/raw_input_contents\[0\] ends inside element 1/);
  });
});

describe('the trained fixture model (test/fixtures/model.json)', () => {
  let s: Served;
  beforeAll(async () => {
    const { model, version } = await loadArtifact(join(import.meta.dirname, '../fixtures/model.json'));
    s = await serve(new ForestComponent(model), { modelVersion: version });
  });
  afterAll(() => s.close());

  test('typed and raw gRPC and REST give bit-identical probabilities for 200 rows', async () => {
    const rows: number[][] = [];
    for (let i = 0; i < 200; i++) rows.push([18 + ((i * 7) % 60), 10 + ((i * 37.25) % 240), i % 2, i % 7]);
    const rest = await restProbabilities(s, rows, POST_NAMES, POST_TYPES);
    expect(rest).toHaveLength(600);
    const typed = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      inputs: typedInputs(rows, POST_NAMES, POST_TYPES),
    });
    expect(sameBits(outputOf(typed, 'probabilities').contents?.fp64_contents ?? [], rest)).toBe(true);
    const raw = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      ...rawInputs(rows, POST_NAMES, POST_TYPES),
    });
    expect(sameBits(doublesOf(rawOutput(raw, 'probabilities')), rest)).toBe(true);
    // The forest is not a constant: the rows do not all get the same answer.
    expect(new Set(rest.map(String)).size).toBeGreaterThan(10);
  });

  test('explanation outputs (shap_values, expected_value), typed and raw, are the REST ones bit for bit', async () => {
    const rows = POST_ROWS;
    const outputs = [{ name: 'shap_values' }, { name: 'expected_value' }, { name: 'probabilities' }];
    const restRes = await postJson(s.app, INFER, {
      inputs: POST_NAMES.map((name, j) => ({
        name,
        datatype: POST_TYPES[j],
        shape: [4],
        data: column(rows, j),
      })),
      outputs,
    });
    expect(restRes.statusCode, restRes.body).toBe(200);
    const restOut = (restRes.json() as { outputs: { name: string; shape: number[]; data: number[] }[] })
      .outputs;
    const restOf = (name: string) =>
      restOut.find((o) => o.name === name) as { shape: number[]; data: number[] };
    expect(restOf('shap_values').shape).toEqual([4, 3, 4]);
    const typed = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      inputs: typedInputs(rows, POST_NAMES, POST_TYPES),
      outputs,
    });
    expect(typed.outputs.map((o) => o.name)).toEqual(['shap_values', 'expected_value', 'probabilities']);
    const shap = outputOf(typed, 'shap_values');
    expect(shap.shape).toEqual([4, 3, 4]);
    expect(JSON.parse(shap.parameters?.features?.string_param ?? '')).toEqual(POST_NAMES);
    for (const name of ['shap_values', 'expected_value', 'probabilities']) {
      expect(sameBits(outputOf(typed, name).contents?.fp64_contents ?? [], restOf(name).data), name).toBe(
        true,
      );
    }
    const raw = await call<InferResponse>(s.clients.oip, 'ModelInfer', {
      model_name: 'segserve',
      ...rawInputs(rows, POST_NAMES, POST_TYPES),
      outputs,
    });
    for (const name of ['shap_values', 'expected_value', 'probabilities']) {
      expect(sameBits(doublesOf(rawOutput(raw, name)), restOf(name).data), name).toBe(true);
    }
  });
});
