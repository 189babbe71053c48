/**
 * Calibration measures as pure functions: expected calibration error over equal-width confidence bins
 * (Guo et al. 2017; 15 bins is their and NannyML's default) and a golden-section minimiser for the
 * one-parameter temperature fit.
 */

export const DEFAULT_ECE_BINS = 15;

/** Equal-width bin of a confidence in [0, 1]; 1.0 falls in the last bin. */
export function confidenceBin(confidence: number, bins: number): number {
  return Math.min(bins - 1, Math.max(0, Math.floor(confidence * bins)));
}

/**
 * ECE = Σ_b (n_b / n) · |accuracy_b − mean confidence_b| over the bins that hold predictions.
 * `correct[i]` says whether prediction i (with confidence `confidences[i]`) was right.
 */
export function expectedCalibrationError(
  confidences: readonly number[],
  correct: readonly boolean[],
  bins = DEFAULT_ECE_BINS,
): number {
  if (confidences.length !== correct.length)
    throw new Error(`${confidences.length} confidences but ${correct.length} outcomes`);
  if (confidences.length === 0) return 0;
  const count = new Array<number>(bins).fill(0);
  const confSum = new Array<number>(bins).fill(0);
  const hits = new Array<number>(bins).fill(0);
  confidences.forEach((c, i) => {
    const b = confidenceBin(c, bins);
    count[b] = (count[b] ?? 0) + 1;
    confSum[b] = (confSum[b] ?? 0) + c;
    if (correct[i]) hits[b] = (hits[b] ?? 0) + 1;
  });
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const n = count[b] ?? 0;
    if (n > 0) ece += (n / confidences.length) * Math.abs((hits[b] ?? 0) / n - (confSum[b] ?? 0) / n);
  }
  return ece;
}

/** Minimum of a unimodal f on [lo, hi] by golden-section search, to within `tolerance` in x. */
export function goldenSectionMinimize(
  f: (x: number) => number,
  lo: number,
  hi: number,
  tolerance = 1e-4,
): number {
  const invPhi = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - invPhi * (b - a);
  let d = a + invPhi * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > tolerance) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - invPhi * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + invPhi * (b - a);
      fd = f(d);
    }
  }
  return (a + b) / 2;
}
