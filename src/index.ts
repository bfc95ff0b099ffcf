/** The library surface of segserve: load a trained model, write a serving component in TypeScript. */

export type { Artifact } from './pipeline/artifact.js';
export { loadArtifact, loadModel } from './pipeline/artifact.js';
export type { FeatureInfo, Model } from './pipeline/types.js';
export { ModelInputError } from './pipeline/types.js';
export type { AppOptions, SegserveHandle } from './serve/app.js';
export { buildApp } from './serve/app.js';
export type {
  Component,
  ComponentClass,
  ComponentContext,
  MetadataTensor,
  MetricType,
  PredictInput,
  PredictOutput,
  SeldonMeta,
  SeldonMetadata,
  SeldonMetric,
} from './serve/component.js';
export { ForestComponent, loadComponent } from './serve/component.js';
