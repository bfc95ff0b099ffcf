/**
 * Custom metrics with request-derived tags cannot grow /metrics without bound nor fail a request: past
 * the series cap or the exposition-size cap, new series (and new families) are dropped and counted in
 * segserve_custom_metrics_dropped_total; existing series keep counting.
 */
import { expect, test } from 'vitest';
import { buildApp } from '../../src/serve/app.js';
import type { Component } from '../../src/serve/component.js';
import { seldonIdentity } from '../../src/serve/env.js';
import { ServeMetrics } from '../../src/serve/metrics.js';
import { samplesOf } from './prod-helpers.js';

/** A component tagging every answer with a new id (and, every 10th, a new metric name). */
function runaway(): Component {
  let n = 0;
  return {
    predict: () => [[1]],
    metrics: () => {
      n++;
      const out = [
        { type: 'COUNTER' as const, key: 'answered', value: 1 },
        { type: 'COUNTER' as const, key: 'seen', value: 1, tags: { id: String(n) } },
      ];
      if (n % 10 === 0) out.push({ type: 'COUNTER' as const, key: `key_${n}`, value: 1 });
      return out;
    },
  };
}

test.each([
  ['series', { maxCustomSeries: 50 }],
  ['exposition bytes', { maxCustomBytes: 20_000 }],
])('past the %s cap: every request answered, new series dropped and counted', async (_what, caps) => {
  const metrics = new ServeMetrics({ identity: seldonIdentity({}), processMetrics: false, ...caps });
  const app = await buildApp(runaway(), { env: {}, metrics });
  for (let i = 0; i < 200; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1.0/predictions',
      headers: { 'content-type': 'application/json' },
      payload: '{"data":{"ndarray":[[1]]}}',
    });
    expect(res.statusCode, res.body).toBe(200);
  }
  const text = await metrics.text();
  const seen = samplesOf(text, 'seen_total').length;
  const dropped = samplesOf(text, 'segserve_custom_metrics_dropped_total')[0]?.value ?? 0;
  expect(seen).toBeGreaterThan(10);
  expect(seen).toBeLessThan(200);
  expect(Buffer.byteLength(text)).toBeLessThan(60_000);
  // Every series not kept was counted: the 200 ids and the 20 new names, less those kept.
  const keys = text.split('\n').filter((l) => /^key_\d+_total\{/.test(l)).length;
  expect(dropped).toBe(200 - seen + (20 - keys));
  // The series that exist keep counting.
  expect(samplesOf(text, 'answered_total')[0]?.value).toBe(200);
  await app.close();
});
