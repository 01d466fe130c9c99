export { loadFeatures, standardizer, trainTestSplit, MlError, type FeatureMatrix } from "./features.js";
export { classificationMetrics, rocAuc, rocCurve, type ClassificationMetrics } from "./metrics.js";
export { sweepK, trainSegments, trainChurnForest, permutationImportance, silhouette, score, type ModelSpec, type KSweepPoint } from "./models.js";
export { logModel, loadModel, FLAVOR, type LoadedModel } from "./mlflow-model.js";
export { writeCustomerScores, recommendationsFor, CUSTOMER_SCORES, type CustomerScores, type Recommendations } from "./scores.js";
