/** CART trees and the random forest on typed arrays (scikit-learn's RandomForestClassifier semantics). */
export { Forest, fitForest, fitTrees, validateSeed } from './forest.js';
export {
  ForestParamError,
  MAX_CLASSES,
  resolveMaxFeatures,
  validateBinnedData,
  validateParams,
  validateTrainingData,
  validateTreeParams,
} from './params.js';
export {
  balancedClassWeights,
  binColumns,
  drawIndices,
  fitTree,
  TreeBuilder,
  treeDepth,
  treeFeatureImportances,
  unbinColumn,
  unbinRows,
  validateTree,
} from './tree.js';
export type { ShapResult, ShapTree } from './treeshap.js';
export { forestShap, TreeExplainer, treeExpectedValue } from './treeshap.js';
export type {
  BinColumn,
  Binned,
  BinnedData,
  ClassWeight,
  ForestParams,
  MaxFeatures,
  TrainingData,
  Tree,
  TreeParams,
} from './types.js';
