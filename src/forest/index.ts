/** CART trees and the random forest on typed arrays (scikit-learn's RandomForestClassifier semantics). */
export { Forest, fitForest, fitTrees, validateSeed } from './forest.js';
export {
  ForestParamError,
  MAX_CLASSES,
  resolveMaxFeatures,
  validateParams,
  validateTrainingData,
  validateTreeParams,
} from './params.js';
export type { BinColumn, Binned } from './tree.js';
export {
  balancedClassWeights,
  binColumns,
  drawIndices,
  fitTree,
  TreeBuilder,
  treeDepth,
  treeFeatureImportances,
  validateTree,
} from './tree.js';
export type { ShapResult, ShapTree } from './treeshap.js';
export { forestShap, TreeExplainer, treeExpectedValue } from './treeshap.js';
export type { ClassWeight, ForestParams, MaxFeatures, TrainingData, Tree, TreeParams } from './types.js';
