/** The library surface of segserve: load a trained model, write a serving component in TypeScript. */
export type { FeatureInfo, Model } from './pipeline/types.js';
export { ModelInputError } from './pipeline/types.js';
