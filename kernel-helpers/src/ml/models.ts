import { kmeans } from "ml-kmeans";
import { RandomForestClassifier } from "ml-random-forest";
import { mulberry32 } from "../random.js";
import { MlError, standardizer } from "./features.js";
import { rocAuc } from "./metrics.js";

// mljs (ml-kmeans, ml-random-forest): maintained together, pure JS (no native build in the kernel
// image), seeded, and their models serialise to plain JSON — which is what an MLflow model directory stores.

/** What a saved model is: enough to score new rows with no training code around. */
export type ModelSpec =
  | { readonly kind: "kmeans"; readonly features: readonly string[]; readonly mean: number[]; readonly std: number[]; readonly centroids: number[][]; readonly segmentNames: string[] }
  | { readonly kind: "random_forest_classifier"; readonly features: readonly string[]; readonly forest: unknown };

/** Score rows (in `features` order): segment index for k-means, probability of class 1 for the forest. */
export function score(spec: ModelSpec, rows: readonly number[][]): number[] {
  if (rows.some((r) => r.length !== spec.features.length)) {
    throw new MlError(`The model expects ${spec.features.length} features (${spec.features.join(", ")}); a row has a different length.`, {
      fix: "Pass the columns in the model's feature order (model.features).",
    });
  }
  if (spec.kind === "kmeans") {
    return rows.map((r) => nearest(spec.centroids, r.map((v, j) => (v - spec.mean[j]!) / spec.std[j]!)));
  }
  const forest = RandomForestClassifier.load(spec.forest as never);
  return forest.predictProbability(rows.map((r) => [...r]), 1);
}

export interface KSweepPoint { readonly k: number; readonly inertia: number; readonly silhouette: number }

/** k-means on standardised features for each k, with inertia (elbow) and silhouette to choose k. */
export function sweepK(X: readonly number[][], ks: readonly number[], seed: number): KSweepPoint[] {
  const Z = standardizer(X).apply(X);
  return ks.map((k) => {
    const r = kmeans(Z, k, { seed, initialization: "kmeans++" });
    const inertia = Z.reduce((s, row, i) => s + dist2(row, r.centroids[r.clusters[i]!]!), 0);
    return { k, inertia, silhouette: silhouette(Z, r.clusters) };
  });
}

/**
 * RFM segments: k-means on standardised features; segments are named by their centroid's
 * monetary value (the first feature named "monetary", else the first feature), highest first.
 */
export function trainSegments(X: readonly number[][], features: readonly string[], k: number, seed: number): ModelSpec & { kind: "kmeans" } {
  if (X.length < k) throw new MlError(`k-means with k=${k} needs at least ${k} rows, got ${X.length}.`, { fix: "Use a smaller k or more data." });
  const scaler = standardizer(X);
  const r = kmeans(scaler.apply(X), k, { seed, initialization: "kmeans++" });
  const m = Math.max(0, features.indexOf("monetary"));
  const order = r.centroids.map((c, i) => ({ i, v: c[m]! })).sort((a, b) => b.v - a.v).map((x) => x.i);
  const labels = ["top spenders", "regulars", "occasional", "low value", "dormant", "new", "other"];
  // Renumber so segment 0 is always the highest-value one: names stay stable across retraining.
  const centroids = order.map((i) => r.centroids[i]!);
  return { kind: "kmeans", features, mean: scaler.mean, std: scaler.std, centroids, segmentNames: centroids.map((_, i) => labels[i] ?? `segment ${i}`) };
}

export function trainChurnForest(X: readonly number[][], y: readonly number[], features: readonly string[], options: { seed: number; trees?: number }): ModelSpec & { kind: "random_forest_classifier" } {
  if (X.length === 0) throw new MlError("The training set is empty.", { fix: "Check the feature table has rows (run notebooks/04_gold_aggregations.ipynb first)." });
  if (new Set(y).size < 2) throw new MlError("The training set has only one class: a classifier cannot learn from it.", { fix: "Check the label column (churned) in gold.ml_features." });
  // noOOB: the library's out-of-bag pass fails when a row is in every bootstrap sample (small forests); we evaluate on a held-out test set instead.
  const forest = new RandomForestClassifier({ seed: options.seed, nEstimators: options.trees ?? 100, maxFeatures: 0.7, replacement: true, useSampleBagging: true, noOOB: true });
  forest.train(X.map((r) => [...r]), [...y]);
  return { kind: "random_forest_classifier", features, forest: forest.toJSON() };
}

/** Permutation importance: how much test AUC drops when one feature's values are shuffled. */
export function permutationImportance(spec: ModelSpec, X: readonly number[][], y: readonly number[], seed: number): { feature: string; importance: number }[] {
  const base = rocAuc(y, score(spec, X));
  const random = mulberry32(seed);
  return spec.features.map((feature, j) => {
    const column = X.map((r) => r[j]!);
    for (let i = column.length - 1; i > 0; i--) {
      const k = Math.floor(random() * (i + 1));
      [column[i], column[k]] = [column[k]!, column[i]!];
    }
    const shuffled = X.map((r, i) => r.map((v, c) => (c === j ? column[i]! : v)));
    return { feature, importance: base - rocAuc(y, score(spec, shuffled)) };
  });
}

function dist2(a: readonly number[], b: readonly number[]): number {
  return a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0);
}

function nearest(centroids: readonly number[][], row: readonly number[]): number {
  let best = 0;
  centroids.forEach((c, i) => { if (dist2(row, c) < dist2(row, centroids[best]!)) best = i; });
  return best;
}

/** Mean silhouette coefficient (exact; fine for the thousands of customers a lab has). */
export function silhouette(Z: readonly number[][], clusters: readonly number[]): number {
  const k = Math.max(...clusters) + 1;
  if (k < 2) return 0;
  let total = 0;
  for (let i = 0; i < Z.length; i++) {
    const sums = new Array<number>(k).fill(0);
    const counts = new Array<number>(k).fill(0);
    for (let j = 0; j < Z.length; j++) {
      if (i === j) continue;
      sums[clusters[j]!]! += Math.sqrt(dist2(Z[i]!, Z[j]!));
      counts[clusters[j]!]!++;
    }
    const own = clusters[i]!;
    if (counts[own] === 0) continue;
    const a = sums[own]! / counts[own]!;
    const b = Math.min(...sums.map((s, c) => (c === own || counts[c] === 0 ? Infinity : s / counts[c]!)));
    total += (b - a) / Math.max(a, b);
  }
  return total / Z.length;
}
