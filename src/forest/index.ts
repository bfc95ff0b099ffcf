/** CART trees and the random forest on typed arrays (scikit-learn's RandomForestClassifier semantics). */
export { Forest, fitForest } from './forest.js';
export {
  ForestParamError,
  MAX_CLASSES,
  resolveMaxFeatures,
  validateParams,
  validateTrainingData,
  validateTreeParams,
} from './params.js';
export type { Presorted } from './tree.js';
export {
  balancedClassWeights,
  drawIndices,
  fitTree,
  presort,
  TreeBuilder,
  treeDepth,
  treeFeatureImportances,
  validateTree,
} from './tree.js';
export type { ClassWeight, ForestParams, MaxFeatures, TrainingData, Tree, TreeParams } from './types.js';
export type { ShapResult, ShapTree } from './treeshap.js';
export { forestShap, TreeExplainer, treeExpectedValue } from './treeshap.js';
