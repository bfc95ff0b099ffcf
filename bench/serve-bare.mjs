/**
 * The peer of bench/serve: a bare Fastify server (defaults, no logger) that parses the same JSON body
 * with Fastify's own parser and answers a constant SeldonMessage of the same shape. Prints its port as
 * one JSON line, then serves until killed.
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
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
