import { SENTIMENT_LABELS } from '../domain/enrichment.js';
import { HISTOGRAM_FEATURES, type GroupWindowStats, type HistogramFeature } from '../domain/windows.js';
import { chiSquareSf, kolmogorovSf } from './special.js';

/**
 * Drift metrics, current window vs reference (design §6), pure functions over histograms and counts.
 * Agreement with scipy on the same histograms is checked by test/unit/stats/oracle.test.ts.
 *
 * - PSI over the store's fixed bins (src/stats/histograms.ts) or the categories of a mix:
 *   p_i = c_i/N_c + ε, q_i = r_i/N_r + ε with ε = 1e-4 added to every bin proportion (no
 *   renormalisation), PSI = Σ (p_i − q_i)·ln(p_i/q_i). Conventional bands: < 0.1 stable,
 *   0.1–0.25 moderate, > 0.25 significant. This is not Evidently's PSI: Evidently bins the pooled
 *   samples (Sturges edges; categories as they are) and replaces only the *empty* bins, by 1e-4 (or
 *   by the smallest non-empty share / 10⁶ when that share is ≤ 1e-4), leaving the others as they are.
 *   We keep the store's fixed bins (histograms are stored, not samples, so edges cannot follow the
 *   data) and shift every bin by the same ε, which keeps PSI symmetric, continuous in the counts and
 *   defined for any window; the two differ most where bins are empty on one side (up to ~0.4 on
 *   sparse 20-bin windows; issue 18 found up to 0.43 on random cases, with no decision at 0.1 or 0.25 flipped). docs/alerting.md (drift).
 * - Jensen–Shannon distance, base 2, in [0, 1]: scipy.spatial.distance.jensenshannon(p, q, base=2).
 * - Kolmogorov–Smirnov on binned data: each count is a sample at its bin, so D = max over bins of
 *   |F_cur − F_ref| (what scipy.stats.ks_2samp returns on samples expanded from the histograms); the
 *   p-value is the *asymptotic Kolmogorov* one, P(K > √(n·m/(n+m))·D) (scipy.stats.kstwobign.sf).
 *   (scipy's ks_2samp(method="asymp") instead uses the finite-n kstwo distribution at round(n·m/(n+m));
 *   the two agree closely for the sample sizes of monitoring windows.) Binned KS is conservative:
 *   ties inside a bin can only lower D.
 * - χ² test of homogeneity for categorical mixes: scipy.stats.chi2_contingency on the 2×k table
 *   (reference row, current row); categories empty in both rows are dropped first (scipy rejects
 *   zero expected counts); Yates' correction only when dof = 1, as scipy does; dof = 0 gives χ² = 0, p = 1.
 */
export const PSI_EPSILON = 1e-4;

function total(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0);
}

/** Population stability index; null when either side is empty. */
export function psi(
  current: readonly number[],
  reference: readonly number[],
  epsilon: number = PSI_EPSILON,
): number | null {
  const nc = total(current);
  const nr = total(reference);
  if (!(nc > 0) || !(nr > 0) || current.length !== reference.length) return null;
  let sum = 0;
  for (let i = 0; i < current.length; i++) {
    const p = current[i]! / nc + epsilon;
    const q = reference[i]! / nr + epsilon;
    sum += (p - q) * Math.log(p / q);
  }
  return sum;
}

/** x·ln(x/y) with scipy.special.rel_entr's conventions (0 at x = 0). */
function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Number.POSITIVE_INFINITY;
}

/** Jensen–Shannon distance with base-2 logarithms; null when either side is empty. */
export function jensenShannonDistance(
  current: readonly number[],
  reference: readonly number[],
): number | null {
  const nc = total(current);
  const nr = total(reference);
  if (!(nc > 0) || !(nr > 0) || current.length !== reference.length) return null;
  let left = 0;
  let right = 0;
  for (let i = 0; i < current.length; i++) {
    const p = current[i]! / nc;
    const q = reference[i]! / nr;
    const m = (p + q) / 2;
    left += relEntr(p, m);
    right += relEntr(q, m);
  }
  const js = (left + right) / Math.LN2;
  return Math.sqrt(Math.max(0, js) / 2);
}

export interface KolmogorovSmirnov {
  statistic: number;
  pValue: number;
  /** Effective sample size n·m/(n+m). */
  effectiveN: number;
}

/** Two-sample KS on two histograms over the same bins; null when either side is empty. */
export function ksBinned(current: readonly number[], reference: readonly number[]): KolmogorovSmirnov | null {
  const nc = total(current);
  const nr = total(reference);
  if (!(nc > 0) || !(nr > 0) || current.length !== reference.length) return null;
  let cc = 0;
  let cr = 0;
  let d = 0;
  for (let i = 0; i < current.length; i++) {
    cc += current[i]!;
    cr += reference[i]!;
    d = Math.max(d, Math.abs(cc / nc - cr / nr));
  }
  const en = (nc * nr) / (nc + nr);
  return { statistic: d, pValue: Math.min(1, Math.max(0, kolmogorovSf(Math.sqrt(en) * d))), effectiveN: en };
}

export interface ChiSquareTest {
  statistic: number;
  pValue: number;
  dof: number;
}

/** χ² test of homogeneity of two count vectors over the same categories (see module comment). */
export function chiSquareHomogeneity(
  current: readonly number[],
  reference: readonly number[],
): ChiSquareTest | null {
  if (current.length !== reference.length) return null;
  const cols: Array<[number, number]> = [];
  for (let i = 0; i < current.length; i++)
    if (current[i]! + reference[i]! > 0) cols.push([reference[i]!, current[i]!]);
  const rowRef = cols.reduce((s, c) => s + c[0], 0);
  const rowCur = cols.reduce((s, c) => s + c[1], 0);
  if (!(rowRef > 0) || !(rowCur > 0)) return null;
  const dof = cols.length - 1;
  if (dof === 0) return { statistic: 0, pValue: 1, dof: 0 };
  const n = rowRef + rowCur;
  let stat = 0;
  for (const [ref, cur] of cols) {
    const colTotal = ref + cur;
    for (const [observed, rowTotal] of [
      [ref, rowRef],
      [cur, rowCur],
    ] as const) {
      const expected = (rowTotal * colTotal) / n;
      let o = observed;
      if (dof === 1) {
        // Yates: move each observed count towards its expectation by at most 0.5 (scipy's rule).
        const diff = expected - o;
        o += Math.sign(diff) * Math.min(0.5, Math.abs(diff));
      }
      stat += ((o - expected) * (o - expected)) / expected;
    }
  }
  return { statistic: stat, pValue: chiSquareSf(stat, dof), dof };
}

/**
 * Page–Hinkley test for an upward shift of a series (e.g. a group's negative rate per bucket), as in
 * river.drift.PageHinkley with mode "up" and no forgetting:
 *   x̄_t = mean(x_1..x_t);  m_t = Σ_{i≤t} (x_i − x̄_i − δ);  M_t = min_{i≤t} m_i;  alarm when m_t − M_t > λ
 * (after minInstances points); the detector restarts after an alarm.
 * Defaults for a rate in [0, 1]: δ = 0.005 (tolerated drift per point), λ = 1 (≈ four buckets 25 points
 * above the running mean, or twenty at 5 points), minInstances = 5. The statistic is a random walk for
 * a stable but noisy rate (spread ≈ σ·√t, σ the per-bucket binomial noise), so λ must grow for groups
 * with few documents per bucket; callers pass their own when they know the bucket volume.
 */
export interface PageHinkleyParams {
  delta: number;
  lambda: number;
  minInstances: number;
}

export const PAGE_HINKLEY_DEFAULTS: PageHinkleyParams = { delta: 0.005, lambda: 1, minInstances: 5 };

export interface PageHinkleyResult {
  /** Indices (into the input series) where an alarm was raised. */
  alarms: number[];
  /** m_t − M_t after the last point (since the last alarm). */
  statistic: number;
}

export function pageHinkley(
  series: readonly number[],
  params: Partial<PageHinkleyParams> = {},
): PageHinkleyResult {
  const { delta, lambda, minInstances } = { ...PAGE_HINKLEY_DEFAULTS, ...params };
  const alarms: number[] = [];
  let n = 0;
  let mean = 0;
  let cumulative = 0;
  let minimum = 0;
  for (let i = 0; i < series.length; i++) {
    const x = series[i]!;
    n += 1;
    mean += (x - mean) / n;
    cumulative += x - mean - delta;
    minimum = Math.min(minimum, cumulative);
    if (n >= minInstances && cumulative - minimum > lambda) {
      alarms.push(i);
      n = 0;
      mean = 0;
      cumulative = 0;
      minimum = 0;
    }
  }
  return { alarms, statistic: cumulative - minimum };
}

/** What drift is computed from: the window's totals (`_all` group) and categorical mixes of some dimensions. */
export interface DriftSnapshot {
  total: GroupWindowStats;
  /** Group counts of dimensions whose mix is a feature (e.g. source, language): dimension → group → n. */
  mixes: Record<string, Record<string, number>>;
}

export type DriftFeature =
  | HistogramFeature
  | 'label_mix'
  | 'entity_type_mix'
  | 'unknown_token_rate'
  | 'truncation_rate'
  | `${string}_mix`;

export interface DriftFeatureResult {
  feature: DriftFeature;
  kind: 'numeric' | 'categorical';
  currentN: number;
  referenceN: number;
  psi: number | null;
  jensenShannon: number | null;
  ks: KolmogorovSmirnov | null;
  chiSquare: ChiSquareTest | null;
}

function categorical(
  feature: DriftFeature,
  cur: Record<string, number>,
  ref: Record<string, number>,
): DriftFeatureResult {
  const keys = [...new Set([...Object.keys(cur), ...Object.keys(ref)])].sort();
  const c = keys.map((k) => cur[k] ?? 0);
  const r = keys.map((k) => ref[k] ?? 0);
  return {
    feature,
    kind: 'categorical',
    currentN: total(c),
    referenceN: total(r),
    psi: psi(c, r),
    jensenShannon: jensenShannonDistance(c, r),
    ks: null,
    chiSquare: chiSquareHomogeneity(c, r),
  };
}

/** Drift of every feature between two windows (or a window and a captured baseline). */
export function computeDrift(current: DriftSnapshot, reference: DriftSnapshot): DriftFeatureResult[] {
  const out: DriftFeatureResult[] = [];
  for (const feature of HISTOGRAM_FEATURES) {
    const c = current.total.histograms[feature];
    const r = reference.total.histograms[feature];
    out.push({
      feature,
      kind: 'numeric',
      currentN: total(c),
      referenceN: total(r),
      psi: psi(c, r),
      jensenShannon: jensenShannonDistance(c, r),
      ks: ksBinned(c, r),
      chiSquare: null,
    });
  }
  const labels = (s: GroupWindowStats) =>
    Object.fromEntries(SENTIMENT_LABELS.map((l) => [l, s.labelCounts[l]]));
  out.push(categorical('label_mix', labels(current.total), labels(reference.total)));
  out.push(categorical('entity_type_mix', current.total.entityTypes, reference.total.entityTypes));
  // Rates as 2-category mixes: unknown vs known tokens, truncated vs complete documents.
  const unk = (s: GroupWindowStats) => ({
    unknown: s.unknownTokens,
    known: Math.max(0, s.tokens - s.unknownTokens),
  });
  out.push(categorical('unknown_token_rate', unk(current.total), unk(reference.total)));
  const trunc = (s: GroupWindowStats) => ({
    truncated: s.truncated,
    complete: Math.max(0, s.count - s.truncated),
  });
  out.push(categorical('truncation_rate', trunc(current.total), trunc(reference.total)));
  for (const dim of Object.keys(current.mixes).sort()) {
    out.push(categorical(`${dim}_mix`, current.mixes[dim] ?? {}, reference.mixes[dim] ?? {}));
  }
  return out;
}

/** Negative-rate series of one group (buckets with no documents skipped) → Page–Hinkley. */
export function negativeRateChange(
  series: ReadonlyArray<[number, GroupWindowStats]>,
  params: Partial<PageHinkleyParams> = {},
): { alarmsAtMs: number[]; statistic: number } {
  const points = series.filter(([, s]) => s.count > 0);
  const result = pageHinkley(
    points.map(([, s]) => s.labelCounts.negative / s.count),
    params,
  );
  return { alarmsAtMs: result.alarms.map((i) => points[i]![0]), statistic: result.statistic };
}
