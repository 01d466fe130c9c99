/** Binary classification metrics from labels and predicted probabilities. */
export interface ClassificationMetrics {
  readonly accuracy: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly rocAuc: number;
  /** Mean squared error of the probabilities (lower is better; always predicting the base rate is the baseline). */
  readonly brier: number;
  /** [[TN, FP], [FN, TP]] */
  readonly confusion: [[number, number], [number, number]];
}

export function classificationMetrics(yTrue: readonly number[], prob: readonly number[], threshold = 0.5): ClassificationMetrics {
  let tp = 0, fp = 0, tn = 0, fn = 0;
  yTrue.forEach((y, i) => {
    const p = prob[i]! >= threshold ? 1 : 0;
    if (p === 1 && y === 1) tp++;
    else if (p === 1) fp++;
    else if (y === 1) fn++;
    else tn++;
  });
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  return {
    accuracy: (tp + tn) / yTrue.length, precision, recall,
    f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    rocAuc: rocAuc(yTrue, prob), brier: brier(yTrue, prob), confusion: [[tn, fp], [fn, tp]],
  };
}

/** Area under the ROC curve as the Mann–Whitney statistic (ties count half). */
export function rocAuc(yTrue: readonly number[], prob: readonly number[]): number {
  const pos = prob.filter((_, i) => yTrue[i] === 1);
  const neg = prob.filter((_, i) => yTrue[i] !== 1);
  if (!pos.length || !neg.length) return 0.5;
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (pos.length * neg.length);
}

/** ROC curve points (false positive rate, true positive rate), one per distinct threshold. */
export function rocCurve(yTrue: readonly number[], prob: readonly number[]): { fpr: number; tpr: number; threshold: number }[] {
  const P = yTrue.filter((y) => y === 1).length || 1;
  const N = yTrue.length - yTrue.filter((y) => y === 1).length || 1;
  const thresholds = [Infinity, ...[...new Set(prob)].sort((a, b) => b - a)];
  return thresholds.map((t) => {
    let tp = 0, fp = 0;
    prob.forEach((p, i) => { if (p >= t) (yTrue[i] === 1 ? tp++ : fp++); });
    return { fpr: fp / N, tpr: tp / P, threshold: Number.isFinite(t) ? t : 1 };
  });
}

export function brier(yTrue: readonly number[], prob: readonly number[]): number {
  return yTrue.reduce((s, y, i) => s + (prob[i]! - y) ** 2, 0) / yTrue.length;
}
