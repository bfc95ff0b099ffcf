/** The scikit-learn metric cases of sklearn-metrics.json (written by sklearn-metrics.py). */
import { readFileSync } from 'node:fs';
import type { Evaluation } from '../../src/search/evaluate.js';
import type { Scoring } from '../../src/search/scoring.js';

export interface MetricCase {
  name: string;
  classes: number[];
  y: number[];
  proba: number[];
  yTrain: number[] | null;
  scores: Record<Scoring, number>;
  evaluation: Evaluation;
}

export const sklearnMetrics = JSON.parse(
  readFileSync(new URL('./sklearn-metrics.json', import.meta.url), 'utf8'),
) as { sklearn: string; cases: MetricCase[] };
