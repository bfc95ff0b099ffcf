/**
 * Predictions counted per class label, bounded: string labels as label values, at most 100 classes
 * with their own series and the rest under one overflow value, never request data.
 */
import { describe, expect, test } from 'vitest';
import type { ModelSchema } from '../../src/data/schema.js';
import { ForestComponent } from '../../src/serve/component.js';
import { classLabelValues, MAX_CLASS_LABELS, overflowLabel } from '../../src/serve/metrics-classes.js';
import { FakeModel, penguinModel } from './fake-model.js';
import { componentApp, parseExposition, postJson, predict } from './helpers.js';

describe('classLabelValues', () => {
  test('one value per class up to the bound, then the overflow value', () => {
    expect(classLabelValues([0, 1, 2])).toEqual(['0', '1', '2']);
    expect(classLabelValues(['a', 'b', 'c', 'd'], 2)).toEqual(['a', 'b', 'other', 'other']);
    const many = Array.from({ length: 150 }, (_, i) => i);
    const values = classLabelValues(many);
    expect(values).toHaveLength(150);
    expect(new Set(values).size).toBe(MAX_CLASS_LABELS + 1);
    expect(values[99]).toBe('99');
    expect(values[100]).toBe('other');
  });

  test('the overflow value never takes a kept class label', () => {
    expect(overflowLabel(new Set(['a']))).toBe('other');
    expect(overflowLabel(new Set(['other', '_other']))).toBe('__other');
    expect(classLabelValues(['other', 'x', 'y'], 2)).toEqual(['other', 'x', '_other']);
  });
});

const predictions = async (text: Promise<string>) =>
  parseExposition(await text).samples.filter((s) => s.name === 'segserve_predictions_total');

test('penguins: rows counted per predicted species, over both protocols', async () => {
  const model = penguinModel();
  const app = await componentApp(new ForestComponent(model));
  const rows = [
    ['Biscoe', 46.1, 212, 5200, 'male'],
    ['Dream', null, 190, 3800, null],
    ['Torgersen', 39.1, 181, 3750, 'female'],
  ];
  await predict(app, { data: { ndarray: rows } });
  await predict(app, { jsonData: { island: 'Dream' } });
  await postJson(app, '/v2/models/segserve/infer', {
    inputs: [{ name: 'island', datatype: 'BYTES', shape: [1], data: ['Biscoe'] }],
  });
  const samples = await predictions(app.segserve.metrics.text());
  const want = new Map<string, number>();
  for (const label of [...model.predict(rows), ...model.predict([['Dream', null, null, null, null]])])
    want.set(String(label), (want.get(String(label)) ?? 0) + 1);
  for (const label of model.predict([['Biscoe', null, null, null, null]]))
    want.set(String(label), (want.get(String(label)) ?? 0) + 1);
  for (const s of samples) expect(['Adelie', 'Chinstrap', 'Gentoo']).toContain(s.labels.segment);
  for (const [label, n] of want)
    expect(samples.find((s) => s.labels.segment === label)?.value, label).toBe(n);
  expect(samples.reduce((a, s) => a + s.value, 0)).toBe(5);
  await app.close();
});

test('150 classes: at most 101 series, every row counted', async () => {
  const schema: ModelSchema = {
    target: 'code',
    features: [
      { name: 'x', kind: 'numeric', missing: 0 },
      { name: 'y', kind: 'numeric', missing: 0 },
    ],
    classes: Array.from({ length: 150 }, (_, i) => `c${String(i).padStart(3, '0')}`),
    unknownCategory: 'error',
  };
  const app = await componentApp(new ForestComponent(new FakeModel(schema)));
  const rows = Array.from({ length: 300 }, (_, i) => [(i * 37) % 500, (i * 11) % 300]);
  expect((await predict(app, { data: { ndarray: rows } })).statusCode).toBe(200);
  const samples = await predictions(app.segserve.metrics.text());
  expect(samples.length).toBeLessThanOrEqual(MAX_CLASS_LABELS + 1);
  expect(samples.reduce((a, s) => a + s.value, 0)).toBe(300);
  for (const s of samples)
    expect(s.labels.segment === 'other' || /^c0\d\d$/.test(s.labels.segment ?? '')).toBe(true);
  await app.close();
});
