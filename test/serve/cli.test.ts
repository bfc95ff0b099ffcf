/** `segserve serve` settings: flags win over the Seldon and KServe environment; bad values fail early. */
import { describe, expect, test } from 'vitest';
import { resolveServe, type ServeFlags, serveCommand } from '../../src/cli/serve.js';
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

describe('gRPC port, drift window and payload logging', () => {
  test('gRPC: 5000 by default, $PREDICTIVE_UNIT_GRPC_SERVICE_PORT, the flag wins, 0 turns it off', () => {
    expect(resolveServe(FLAGS, {}).grpcPort).toBe(5000);
    expect(resolveServe(FLAGS, { PREDICTIVE_UNIT_GRPC_SERVICE_PORT: '9500' }).grpcPort).toBe(9500);
    expect(
      resolveServe({ ...FLAGS, grpcPort: 7001 }, { PREDICTIVE_UNIT_GRPC_SERVICE_PORT: '9500' }).grpcPort,
    ).toBe(7001);
    expect(resolveServe({ ...FLAGS, grpcPort: 0, port: 0, metricsPort: 0 }, {}).grpcPort).toBe(0);
  });

  test('a gRPC port equal to the HTTP or the metrics port is refused (usage)', () => {
    const same = (flags: Partial<ServeFlags>, env: Record<string, string> = {}) => {
      try {
        resolveServe({ ...FLAGS, ...flags }, env);
      } catch (err) {
        expect(err).toBeInstanceOf(SegserveError);
        return (err as Error).message;
      }
      throw new Error('not refused');
    };
    expect(same({ port: 7000, grpcPort: 7000 })).toMatch(/gRPC port 7000 is also the HTTP port/);
    expect(same({ metricsPort: 7000, grpcPort: 7000 })).toMatch(/gRPC port 7000 is also the metrics port/);
    expect(same({}, { PREDICTIVE_UNIT_HTTP_SERVICE_PORT: '5000' })).toMatch(/also the HTTP port/);
  });

  test('--log-mode needs --log-url; a bad URL or mode is a usage error', () => {
    expect(resolveServe(FLAGS, {}).payloadLog).toBeUndefined();
    expect(resolveServe({ ...FLAGS, logUrl: 'http://sink:8080/' }, {}).payloadLog?.mode).toBe('all');
    expect(() => resolveServe({ ...FLAGS, logMode: 'request' }, {})).toThrow(/--log-mode needs --log-url/);
    expect(() => resolveServe({ ...FLAGS, logUrl: 'ftp://x/' }, {})).toThrow(SegserveError);
    expect(() => resolveServe({ ...FLAGS, logUrl: 'http://x/', logMode: 'some' }, {})).toThrow(/--log-mode/);
  });
});

describe('the serve command line', () => {
  const parse = (args: string[]) => {
    const cmd = serveCommand()
      .exitOverride()
      .configureOutput({ writeErr: () => {} })
      .action(() => {});
    cmd.parse(args, { from: 'user' });
    return cmd.opts();
  };

  test('--drift-window: 1000 by default, 0 to 1,000,000', () => {
    expect(parse([]).driftWindow).toBe(1000);
    expect(parse(['--drift-window', '0']).driftWindow).toBe(0);
    expect(parse(['--drift-window', '1000000']).driftWindow).toBe(1_000_000);
    expect(() => parse(['--drift-window', '1000001'])).toThrow(/1000000/);
    expect(() => parse(['--drift-window', '-1'])).toThrow(/integer/);
  });

  test('--grpc-port takes a port; --log-url and --log-mode are passed on', () => {
    expect(parse(['--grpc-port', '0']).grpcPort).toBe(0);
    expect(() => parse(['--grpc-port', '70000'])).toThrow(/port/);
    expect(parse(['--log-url', 'http://s/', '--log-mode', 'response'])).toMatchObject({
      logUrl: 'http://s/',
      logMode: 'response',
    });
  });
});
