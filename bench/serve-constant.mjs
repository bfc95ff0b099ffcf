/**
 * For bench/serve: segserve's app exactly as `segserve serve` builds it (built-in forest component, the
 * typed-array fast path, request metrics, CORS, logger at info) but over a model that answers constant
 * probabilities, so the ratio against bare Fastify shows the server's own overhead without the
 * forest's prediction time. Prints its port as one JSON line, then serves until killed.
 */
import { OrdinalEncoder } from '../dist/pipeline/encoder.js';
import { buildApp } from '../dist/serve/app.js';
import { ForestComponent } from '../dist/serve/component.js';

const features = [
  { name: 'age', kind: 'numeric', missing: 0 },
  { name: 'income', kind: 'numeric', missing: 0 },
  { name: 'response', kind: 'categorical', categories: [0, 1], missing: 0 },
  { name: 'events', kind: 'categorical', categories: [0, 1, 2, 3, 4, 5, 6], missing: 0 },
];
// The real encoder, so that decoding costs what it costs with a real model.
const encoder = new OrdinalEncoder(features, 'error');
const constant = (n, out) => {
  for (let i = 0; i < n; i++) out.set([0.06118279312220089, 0.8040269039759572, 0.13479030290184182], i * 3);
};
const model = {
  schema: { target: 'segment', features, classes: [0, 1, 2], unknownCategory: 'error' },
  features,
  classes: [0, 1, 2],
  encodeValue: (j, v, row) => encoder.encodeValue(j, v, row),
  predictEncodedInto: (_x, n, out) => constant(n, out),
  predictProbaInto: (_x, n, out) => constant(n, out),
  predictProba: (rows) => rows.map(() => [0.06118279312220089, 0.8040269039759572, 0.13479030290184182]),
  predict: (rows) => rows.map(() => 1),
};
const app = await buildApp(new ForestComponent(model), { logger: { level: 'info' } });
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
