/** `segserve serve` and a container platform's environment: SEGSERVE_MODEL, PROTOCOL, KServe's PORT. */
import { describe, expect, test } from 'vitest';
import { resolveServe, type ServeFlags } from '../../src/cli/serve.js';
import { DEFAULT_MODEL_PATH } from '../../src/defaults.js';
import { SegserveError } from '../../src/errors.js';
import { KSERVE_PORT, MODEL_ENV, PROTOCOL_ENV } from '../../src/serve/constants.js';

const FLAGS: ServeFlags = {
  host: '0.0.0.0',
  modelName: 'segserve',
  workers: 1,
  grace: 10,
  maxRows: 100_000,
  bodyLimit: 10_485_760,
};

function usage(flags: ServeFlags, env: Record<string, string>): string {
  try {
    resolveServe(flags, env);
  } catch (err) {
    expect(err).toBeInstanceOf(SegserveError);
    expect((err as SegserveError).kind).toBe('usage');
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('SEGSERVE_MODEL', () => {
  test('names the model when --model is not given; --model wins; empty is unset', () => {
    expect(resolveServe(FLAGS, {}).model).toBe(DEFAULT_MODEL_PATH);
    expect(resolveServe(FLAGS, { [MODEL_ENV]: '/models/model.json' }).model).toBe('/models/model.json');
    expect(resolveServe({ ...FLAGS, model: 'm.json' }, { [MODEL_ENV]: '/models/model.json' }).model).toBe(
      'm.json',
    );
    expect(resolveServe(FLAGS, { [MODEL_ENV]: ' ' }).model).toBe(DEFAULT_MODEL_PATH);
  });

  test('with --component: no model unless one is named, by flag or environment', () => {
    const component = { ...FLAGS, component: 'c.js' };
    expect(resolveServe(component, {}).model).toBeUndefined();
    expect(resolveServe(component, { [MODEL_ENV]: '/m.json' }).model).toBe('/m.json');
  });
});

describe('PROTOCOL', () => {
  test('seldon and v1 mean Seldon Core v1; v2, kserve and oip the Open Inference Protocol', () => {
    expect(resolveServe(FLAGS, {}).protocol).toBe('seldon');
    for (const v of ['seldon', 'v1', 'SELDON'])
      expect(resolveServe(FLAGS, { [PROTOCOL_ENV]: v }).protocol).toBe('seldon');
    for (const v of ['v2', 'kserve', 'oip', 'V2'])
      expect(resolveServe(FLAGS, { [PROTOCOL_ENV]: v }).protocol).toBe('v2');
  });

  test('a bad value is a one-line usage error naming the variable and the accepted values', () => {
    expect(usage(FLAGS, { [PROTOCOL_ENV]: 'grpc' })).toMatch(
      /^PROTOCOL=grpc: expected seldon, v1, v2 or kserve/,
    );
    expect(usage(FLAGS, { [PROTOCOL_ENV]: 'constructor' })).toMatch(/^PROTOCOL=constructor: expected/);
  });

  test("KServe's PORT sets the HTTP port, as its predictor container expects", () => {
    expect(resolveServe(FLAGS, { PORT: String(KSERVE_PORT), [PROTOCOL_ENV]: 'v2' })).toMatchObject({
      port: KSERVE_PORT,
      protocol: 'v2',
    });
  });
});
