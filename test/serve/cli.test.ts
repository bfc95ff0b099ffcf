/** `segserve serve` settings: flags win over the Seldon and KServe environment; bad values fail early. */
import { describe, expect, test } from 'vitest';
import { resolveServe, type ServeFlags } from '../../src/cli/serve.js';
import { SegserveError } from '../../src/errors.js';

const FLAGS: ServeFlags = {
  host: '0.0.0.0',
  modelName: 'segserve',
  workers: 1,
  grace: 10,
  maxRows: 100_000,
  bodyLimit: 10_485_760,
};

describe('ports, paths and levels', () => {
  test('defaults: 9000, 6000, /metrics, info, 10 s', () => {
    expect(resolveServe(FLAGS, {})).toMatchObject({
      port: 9000,
      metricsPort: 6000,
      metricsPath: '/metrics',
      level: 'info',
      graceMs: 10_000,
    });
  });

  test('the Seldon variables, then KServe PORT; flags win', () => {
    const env = {
      PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '9001',
      PORT: '8080',
      PREDICTIVE_UNIT_METRICS_SERVICE_PORT: '6001',
      PREDICTIVE_UNIT_METRICS_ENDPOINT: '/prometheus',
      SELDON_LOG_LEVEL: 'warning',
    };
    expect(resolveServe(FLAGS, env)).toMatchObject({
      port: 9001,
      metricsPort: 6001,
      metricsPath: '/prometheus',
      level: 'warn',
    });
    expect(resolveServe(FLAGS, { PORT: '8080' }).port).toBe(8080);
    expect(resolveServe({ ...FLAGS, port: 7000, metricsPort: 7001 }, env)).toMatchObject({
      port: 7000,
      metricsPort: 7001,
    });
    expect(resolveServe(FLAGS, { PREDICTIVE_UNIT_METRICS_ENDPOINT: 'prometheus' }).metricsPath).toBe(
      '/prometheus',
    );
  });

  test('bad values are usage errors naming the variable', () => {
    const fails = (env: Record<string, string>, flags: Partial<ServeFlags> = {}) => {
      const err = (() => {
        try {
          resolveServe({ ...FLAGS, ...flags }, env);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(SegserveError);
      expect((err as SegserveError).kind).toBe('usage');
      return (err as Error).message;
    };
    expect(fails({ PORT: 'eighty' })).toMatch(/^PORT=eighty: expected a port number/);
    expect(fails({ PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '70000' })).toMatch(
      /PREDICTIVE_UNIT_HTTP_SERVICE_PORT/,
    );
    expect(fails({ SELDON_LOG_LEVEL: 'LOUD' })).toMatch(/SELDON_LOG_LEVEL/);
    expect(fails({ PREDICTOR_LABELS: '{' })).toMatch(/PREDICTOR_LABELS is not valid JSON/);
    expect(fails({}, { port: 7000, metricsPort: 7000 })).toMatch(/both 7000/);
  });
});
