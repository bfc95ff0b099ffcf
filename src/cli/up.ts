/**
 * `segserve up`: the whole path on defaults, for a newcomer. Simulates the data if it is missing,
 * trains with the default search if the model is missing or older than the data, then serves.
 */
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { availableParallelism } from 'node:os';
import { Command } from 'commander';
import { cleanupOnSignals } from '../data/atomic.js';
import { DEFAULT_DATA_PATH, DEFAULT_MODEL_PATH, DEFAULT_ROWS, DEFAULT_SEED } from '../defaults.js';
import { SegserveError } from '../errors.js';
import {
  DEFAULT_BODY_LIMIT,
  DEFAULT_DRIFT_WINDOW,
  DEFAULT_GRACE_SECONDS,
  DEFAULT_GRPC_PORT,
  DEFAULT_MAX_ROWS,
  DEFAULT_METRICS_PORT,
  DEFAULT_MODEL_NAME,
  DEFAULT_PORT,
  GRPC_PORT_ENV,
} from '../serve/constants.js';
import { portVar } from '../serve/env.js';
import { port, positiveInt, seed } from './options.js';
import { type Listening, runServe } from './serve.js';
import { runSimulate } from './simulate.js';
import { reportFilePath, runTrain } from './train.js';

interface UpFlags {
  rows: number;
  seed: number;
  host: string;
  port: number;
  metricsPort: number;
  grpcPort?: number;
  fresh?: boolean;
}

/** The post's request: a 34-year-old with income 100, who responded, event 2. */
export const POST_REQUEST =
  '{"data": {"names": ["age", "income", "response", "events"], "ndarray": [[34.0, 100.0, 1, 2]]}}';

export function upCommand(): Command {
  return new Command('up')
    .description('simulate, train and serve on defaults: from a fresh clone to a served model in one command')
    .option('--rows <n>', 'rows to simulate when the data is missing', positiveInt, DEFAULT_ROWS)
    .option('--seed <s>', 'seed for simulating and training', seed, DEFAULT_SEED)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'HTTP port', port, DEFAULT_PORT)
    .option('--metrics-port <port>', 'metrics port', port, DEFAULT_METRICS_PORT)
    .option(
      '--grpc-port <port>',
      `gRPC port (default: $${GRPC_PORT_ENV} or ${DEFAULT_GRPC_PORT}; 0: no gRPC)`,
      port,
    )
    .option('--fresh', 'simulate and train again even if the data and the model exist')
    .action((flags: UpFlags) => runUp(flags));
}

async function mtime(path: string): Promise<number | undefined> {
  return (await stat(path).catch(() => undefined))?.mtimeMs;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * Binds the serving ports now, so that a port in use fails `up` in a second, not after a
 * five-minute training run; they are released just before the server takes them.
 */
async function reservePorts(host: string, ports: readonly number[]): Promise<() => Promise<void>> {
  const servers: Server[] = [];
  const release = async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  };
  for (const p of ports) {
    if (p === 0) continue;
    // A connection to a reserved port (a health check polling early) is closed at once, so that
    // releasing the port never waits for it.
    const server = createServer((socket) => socket.destroy());
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port: p, exclusive: true }, resolve);
      });
    } catch (err) {
      await release();
      const code = (err as NodeJS.ErrnoException).code;
      throw new SegserveError(
        `cannot listen on ${host}:${p}: ${code === 'EADDRINUSE' ? 'the port is in use (choose another with --port / --metrics-port / --grpc-port)' : (code ?? String(err))}`,
        'SEGSERVE_ERR_LISTEN',
      );
    }
    servers.push(server);
  }
  return release;
}

async function runUp(flags: UpFlags): Promise<void> {
  // The same default as serve's, resolved here so that the port is reserved before training.
  const grpcPort = flags.grpcPort ?? portVar(process.env, GRPC_PORT_ENV) ?? DEFAULT_GRPC_PORT;
  const releasePorts = await reservePorts(flags.host, [flags.port, flags.metricsPort, grpcPort]);
  // Interrupted while simulating or training: temporary files go, previous outputs stay.
  const stopCleanup = cleanupOnSignals();
  const dataTime = await mtime(DEFAULT_DATA_PATH);
  if (flags.fresh || dataTime === undefined) {
    say(`== simulate: ${flags.rows} rows into ${DEFAULT_DATA_PATH}`);
    await runSimulate({ rows: flags.rows, seed: flags.seed });
  } else {
    say(`== simulate: reusing ${DEFAULT_DATA_PATH} (--fresh to draw it again)`);
  }

  const modelTime = await mtime(DEFAULT_MODEL_PATH);
  const dataNow = (await mtime(DEFAULT_DATA_PATH)) ?? 0;
  if (flags.fresh || modelTime === undefined || modelTime < dataNow) {
    say(`== train: the post's randomized search into ${DEFAULT_MODEL_PATH}`);
    await runTrain({
      data: DEFAULT_DATA_PATH,
      seed: flags.seed,
      nIter: 100,
      cv: 3,
      scoring: 'accuracy',
      testSize: 0.4,
      classWeight: 'none',
      workers: availableParallelism(),
      report: true,
      search: true,
    });
  } else {
    say(`== train: reusing ${DEFAULT_MODEL_PATH}, newer than the data (--fresh to train again)`);
  }

  stopCleanup();
  await releasePorts();
  const shown = flags.host === '0.0.0.0' || flags.host === '::' ? 'localhost' : flags.host;
  // The banner once the server listens (a curl tried at once then answers), with the ports bound.
  const banner = (at: Listening) => {
    const url = `http://${shown}:${at.port}`;
    const grpc = at.grpcPort === undefined ? '' : `, gRPC on :${at.grpcPort}`;
    say(
      `== serve: ${url} (Seldon Core v1 and Open Inference v2)${grpc}, metrics on :${at.metricsPort}/metrics`,
    );
    say(`   report: ${reportFilePath(DEFAULT_MODEL_PATH)}`);
    say("   try the post's request:");
    say(`   curl -s -X POST ${url}/api/v1.0/predictions -H 'Content-Type: application/json' \\`);
    say(`     -d '${POST_REQUEST}'`);
    say('   stop with Ctrl-C');
  };
  await runServe({
    model: DEFAULT_MODEL_PATH, // the model just trained, whatever $SEGSERVE_MODEL says
    host: flags.host,
    port: flags.port,
    metricsPort: flags.metricsPort,
    modelName: DEFAULT_MODEL_NAME,
    workers: 1,
    grace: DEFAULT_GRACE_SECONDS,
    maxRows: DEFAULT_MAX_ROWS,
    bodyLimit: DEFAULT_BODY_LIMIT,
    grpcPort,
    driftWindow: DEFAULT_DRIFT_WINDOW,
    onListening: banner,
  });
}
