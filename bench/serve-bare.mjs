/**
 * The peer of bench/serve: a bare Fastify server (defaults, no logger) that parses the same JSON body
 * with Fastify's own parser and answers a constant message of the same shape: a SeldonMessage on the
 * Seldon v1 route, an inference response on the Open Inference v2 route. Prints its port as one JSON
 * line, then serves until killed.
 */
import Fastify from 'fastify';

const app = Fastify();
const answer = {
  data: {
    names: ['t:0', 't:1', 't:2'],
    ndarray: [[0.06118279312220089, 0.8040269039759572, 0.13479030290184182]],
  },
  meta: {},
};
app.post('/api/v1.0/predictions', async (req) => {
  if (typeof req.body !== 'object' || req.body === null) throw new Error('no body');
  return answer;
});
const oipAnswer = {
  model_name: 'segserve',
  outputs: [
    {
      name: 'probabilities',
      datatype: 'FP64',
      shape: [1, 3],
      data: [0.06118279312220089, 0.8040269039759572, 0.13479030290184182],
    },
    { name: 'segment', datatype: 'INT64', shape: [1], data: [1] },
  ],
};
app.post('/v2/models/segserve/infer', async (req) => {
  if (typeof req.body !== 'object' || req.body === null) throw new Error('no body');
  return oipAnswer;
});
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
