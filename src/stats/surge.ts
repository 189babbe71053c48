import { median } from './median.js';
import { logGamma } from './special.js';

/**
 * Surge statistics for one dimension and one round (docs/alerting.md "Surge"):
 *
 * 1. Reference: each group's own history, shrunk towards the pooled rate by empirical Bayes. The
 *    groups' history rates are modelled as Beta(κ·p0, κ·(1−p0)); p0 and κ come from the method of
 *    moments across groups (between-group variance minus the binomial part). A group's reference is
 *    the posterior mean (h + κp0)/(m + κ): a new issuer sits at the pool, a well-covered one at its
 *    own rate, and nothing switches at a count.
 * 2. Test: the count of negative stories in the current window against a beta-binomial predictive,
 *    which carries both the uncertainty of the reference (the posterior has concentration m + κ) and
 *    extra-binomial dispersion φ (quasi-binomial, Pearson χ² per group, median divided by the χ²₁
 *    median). φ comes from the window's predecessors (the past hour's windows of the same groups), as
 *    outbreak detection estimates it from the baseline period (Farrington et al. 1996), not from the
 *    round being judged: a round's own residuals grow with whatever else moves in it — other issuers'
 *    tone, a market-wide shift — and then explain a real surge away. Without enough past windows, the
 *    round's median as before.
 * 3. A market-wide rise: the round's common shift in log-odds (median over the judged groups, never
 *    below 0) raises every reference, so that issuers moving with the market do not each fire.
 * 4. Multiplicity: Benjamini–Hochberg across the groups judged in the round.
 */

export interface RateCounts {
  group: string;
  hits: number;
  n: number;
}

export interface BetaPrior {
  /** Pooled rate. */
  mean: number;
  /** Prior concentration κ (a + b): the weight of the pool in documents. */
  concentration: number;
}

/** Bounds of κ: at least one document's worth of pool, at most "every group is the pool". */
export const MIN_CONCENTRATION = 1;
export const MAX_CONCENTRATION = 1e5;

/**
 * Method-of-moments Beta prior across groups (groups with fewer than `minN` trials are left out of
 * the variance, not of the mean): var_between = var(rates) − mean(p0(1−p0)/m).
 */
export function estimateBetaPrior(history: readonly RateCounts[], minN = 5): BetaPrior | null {
  const hits = history.reduce((s, g) => s + g.hits, 0);
  const n = history.reduce((s, g) => s + g.n, 0);
  if (n <= 0) return null;
  const mean = hits / n;
  const used = history.filter((g) => g.n >= minN);
  if (used.length < 2 || mean <= 0 || mean >= 1) return { mean, concentration: MAX_CONCENTRATION };
  const rates = used.map((g) => g.hits / g.n);
  const avg = rates.reduce((s, r) => s + r, 0) / rates.length;
  const observed = rates.reduce((s, r) => s + (r - avg) ** 2, 0) / (rates.length - 1);
  const sampling = used.reduce((s, g) => s + (mean * (1 - mean)) / g.n, 0) / used.length;
  const between = observed - sampling;
  if (!(between > 0)) return { mean, concentration: MAX_CONCENTRATION };
  const concentration = (mean * (1 - mean)) / between - 1;
  return { mean, concentration: Math.min(MAX_CONCENTRATION, Math.max(MIN_CONCENTRATION, concentration)) };
}

/** Posterior of a group's rate: Beta(h + κp0, m − h + κ(1−p0)), as mean and concentration. */
export function shrunkRate(hits: number, n: number, prior: BetaPrior): BetaPrior {
  const concentration = n + prior.concentration;
  return { mean: (hits + prior.concentration * prior.mean) / concentration, concentration };
}

function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/**
 * P(X ≥ k) for X ~ BetaBinomial(n, α, β). Summed over the shorter tail in log space (n is a window's
 * count of stories: hundreds at most).
 */
export function betaBinomialSf(k: number, n: number, alpha: number, beta: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  const logPmf = (x: number) =>
    logGamma(n + 1) -
    logGamma(x + 1) -
    logGamma(n - x + 1) +
    logBeta(x + alpha, n - x + beta) -
    logBeta(alpha, beta);
  const tail = (from: number, to: number) => {
    let p = 0;
    for (let x = from; x <= to; x++) p += Math.exp(logPmf(x));
    return p;
  };
  const p = k > n / 2 ? tail(k, n) : 1 - tail(0, k - 1);
  return Math.min(1, Math.max(0, p));
}

/** P(X ≥ k) for X ~ Binomial(n, p) (the limit of the beta-binomial as the concentration grows). */
export function binomialSf(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const logPmf = (x: number) =>
    logGamma(n + 1) - logGamma(x + 1) - logGamma(n - x + 1) + x * Math.log(p) + (n - x) * Math.log1p(-p);
  let s = 0;
  for (let x = k; x <= n; x++) s += Math.exp(logPmf(x));
  return Math.min(1, s);
}

/**
 * Upper-tail p-value of `hits` of `n` against a reference rate known as Beta(mean, concentration),
 * with extra dispersion φ ≥ 1 (variance φ times the binomial's at this n). The beta-binomial with
 * intra-class correlation ρ has variance n p(1−p)(1 + (n−1)ρ); the reference's own uncertainty is a
 * ρ of 1/(c+1), the dispersion one of (φ−1)/(n−1); both add.
 */
export function surgePValue(hits: number, n: number, reference: BetaPrior, dispersion = 1): number {
  if (n <= 0) return 1;
  const p = Math.min(1 - 1e-9, Math.max(1e-9, reference.mean));
  const rhoReference = Number.isFinite(reference.concentration) ? 1 / (reference.concentration + 1) : 0;
  const rhoDispersion = n > 1 ? Math.max(0, dispersion - 1) / (n - 1) : 0;
  const rho = Math.min(0.999, rhoReference + rhoDispersion);
  if (rho <= 1e-12) return binomialSf(hits, n, p);
  const c = 1 / rho - 1;
  return betaBinomialSf(hits, n, p * c, (1 - p) * c);
}

/** Median of χ² with 1 degree of freedom: scipy.stats.chi2.ppf(0.5, 1). */
export const CHI2_1_MEDIAN = 0.454936423119572;

/**
 * Quasi-binomial dispersion of the round: median over groups of the Pearson residual
 * (x − n p)² / (n p (1−p)), divided by the χ²₁ median (so that binomial data give ≈ 1); at least 1.
 * The median, not the mean, because the groups that surge are exactly the outliers to be found.
 */
export function roundDispersion(groups: ReadonlyArray<{ hits: number; n: number; rate: number }>): number {
  return medianDispersion(groups) ?? 1;
}

/** Fewest Pearson residuals a dispersion is estimated from. */
const MIN_RESIDUALS = 5;

/** The median Pearson residual over χ²₁'s median (at least 1), or null below MIN_RESIDUALS residuals. */
function medianDispersion(groups: ReadonlyArray<{ hits: number; n: number; rate: number }>): number | null {
  const residuals = groups
    .filter((g) => g.n > 0 && g.rate > 0 && g.rate < 1)
    .map((g) => (g.hits - g.n * g.rate) ** 2 / (g.n * g.rate * (1 - g.rate)));
  if (residuals.length < MIN_RESIDUALS) return null;
  return Math.max(1, median(residuals) / CHI2_1_MEDIAN);
}

/**
 * Baseline dispersion: the median Pearson residual of every (group, past window) with at least
 * `minSamples` trials against the group's reference rate, over χ²₁'s median, at least 1; null when
 * fewer than MIN_RESIDUALS such pairs exist (then the round's own dispersion is used).
 */
export function baselineDispersion(
  past: ReadonlyArray<readonly RateCounts[]>,
  rateOf: (group: string) => number | undefined,
  minSamples: number,
): number | null {
  const pairs: Array<{ hits: number; n: number; rate: number }> = [];
  for (const window of past)
    for (const g of window) {
      const rate = rateOf(g.group);
      if (rate !== undefined && g.n >= Math.max(1, minSamples)) pairs.push({ hits: g.hits, n: g.n, rate });
    }
  return medianDispersion(pairs);
}

const logit = (p: number): number => Math.log(p / (1 - p));
const expit = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * The round's common rise in log-odds over the references: the median over the judged groups of
 * logit((x + ½)/(n + 1)) − logit(reference), 0 when the median is not positive (a market turning
 * calmer lowers no reference: an issuer that stays as it was is no surge).
 */
export function commonShift(groups: ReadonlyArray<{ hits: number; n: number; rate: number }>): number {
  const shifts = groups
    .filter((g) => g.n > 0 && g.rate > 0 && g.rate < 1)
    .map((g) => logit((g.hits + 0.5) / (g.n + 1)) - logit(g.rate));
  return shifts.length === 0 ? 0 : Math.max(0, median(shifts));
}

/** A reference rate raised by a common log-odds shift. */
export function shiftedRate(rate: number, shift: number): number {
  return shift === 0 || rate <= 0 || rate >= 1 ? rate : expit(logit(rate) + shift);
}

/**
 * Benjamini–Hochberg adjusted p-values (q-values), in the input order: q_(i) = min_{j≥i} p_(j)·m/j,
 * capped at 1 (as statsmodels.stats.multitest.multipletests(method='fdr_bh')).
 */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(m);
  let running = 1;
  for (let r = m - 1; r >= 0; r--) {
    const [p, i] = order[r]!;
    running = Math.min(running, (p * m) / (r + 1));
    out[i] = Math.min(1, running);
  }
  return out;
}

export interface SurgeJudgement {
  group: string;
  hits: number;
  n: number;
  share: number;
  reference: BetaPrior;
  pValue: number;
  /** BH-adjusted across the judged groups of the round; null for groups not judged. */
  qValue: number | null;
}

/** How a round's dispersion was estimated: from the past windows, or from the round itself. */
export type DispersionSource = 'baseline' | 'round';

export interface SurgeRound {
  judgements: SurgeJudgement[];
  prior: BetaPrior | null;
  dispersion: number;
  dispersionSource: DispersionSource;
  /** The common log-odds rise added to every reference (commonShift). */
  shift: number;
}

/**
 * The whole round: reference per group, dispersion, common shift, p-values and BH over the groups
 * with at least `minSamples` in the current window. `history` is the groups' longer history (e.g.
 * 24 h), `current` the window being judged, `past` the windows before it (baseline dispersion).
 */
export function judgeSurges(
  current: readonly RateCounts[],
  history: readonly RateCounts[],
  minSamples: number,
  past: ReadonlyArray<readonly RateCounts[]> = [],
): SurgeRound {
  const prior = estimateBetaPrior(history);
  const byGroup = new Map(history.map((g) => [g.group, g]));
  const pool = prior ?? estimateBetaPrior(current) ?? { mean: 0.5, concentration: MIN_CONCENTRATION };
  const referenceOf = (group: string): BetaPrior => {
    const h = byGroup.get(group);
    return shrunkRate(h?.hits ?? 0, h?.n ?? 0, pool);
  };
  const withRef = current.map((g) => ({ ...g, reference: referenceOf(g.group) }));
  const judged = withRef.filter((g) => g.n >= Math.max(1, minSamples));
  const asRates = judged.map((g) => ({ hits: g.hits, n: g.n, rate: g.reference.mean }));
  const fromPast = baselineDispersion(past, (group) => referenceOf(group).mean, minSamples);
  const dispersion = fromPast ?? roundDispersion(asRates);
  const shift = commonShift(asRates);
  const test = (g: (typeof withRef)[number]) =>
    surgePValue(
      g.hits,
      g.n,
      { mean: shiftedRate(g.reference.mean, shift), concentration: g.reference.concentration },
      dispersion,
    );
  const pValues = judged.map(test);
  const qValues = benjaminiHochberg(pValues);
  const qByGroup = new Map(judged.map((g, i) => [g.group, qValues[i]!]));
  const pByGroup = new Map(judged.map((g, i) => [g.group, pValues[i]!]));
  const judgements = withRef.map((g) => ({
    group: g.group,
    hits: g.hits,
    n: g.n,
    share: g.n > 0 ? g.hits / g.n : 0,
    reference: g.reference,
    pValue: pByGroup.get(g.group) ?? test(g),
    qValue: qByGroup.get(g.group) ?? null,
  }));
  return { judgements, prior, dispersion, dispersionSource: fromPast === null ? 'round' : 'baseline', shift };
}
