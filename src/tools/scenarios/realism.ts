import type { Random } from './random.js';

/**
 * What real financial news does that independent Poisson documents do not (docs/alerting.md "Surge"):
 * one story is republished by several outlets within minutes with the same tone (syndication), issuers
 * differ in volume (Zipf) and in their usual tone (a Beta spread of base rates), volume follows the
 * trading day, coverage bursts without a change of tone, records arrive late (exponential delays) and
 * a few carry timestamps from the future. Every knob defaults to "off", so a run without `realism`
 * is the run it always was; `REALISTIC_TRAFFIC` is the profile the backtest and the issue measured.
 */
export interface RealismOptions {
  /** A news story is published 1 + Poisson(λ) times across sources; 0 = every document its own story. */
  syndicationLambda: number;
  /** Mean delay of a republication after the original (exponential), event time. */
  syndicationSpreadMs: number;
  /** Share of republications lightly rewritten (else the same text under another source). */
  rewriteShare: number;
  /** Zipf exponent of issuer volume (weight of the k-th issuer ∝ k^−s); 0 = uniform. */
  zipfExponent: number;
  /** Concentration κ of the Beta(μκ, (1−μ)κ) of issuer base negative rates; 0 = one rate for all. */
  issuerRateConcentration: number;
  /** Relative amplitude of the daily volume cycle (rate × (1 + a·cos)); 0 = flat. */
  diurnalAmplitude: number;
  /** Hour (UTC) of the daily volume peak. */
  diurnalPeakHourUtc: number;
  /** Mean arrival delay after the event time (exponential); 0 = records arrive at their event time. */
  arrivalDelayMeanMs: number;
  /** Share of records stamped in the future (clock skew at a source). */
  futureShare: number;
  /** How far ahead a future-stamped record is stamped. */
  futureSkewMs: number;
  /** Coverage bursts with unchanged tone: how many in the run, coverage multiplier, duration. */
  coverageBursts: { count: number; multiplier: number; durationMs: number };
}

export const NO_REALISM: RealismOptions = {
  syndicationLambda: 0,
  syndicationSpreadMs: 180_000,
  rewriteShare: 0.5,
  zipfExponent: 0,
  issuerRateConcentration: 0,
  diurnalAmplitude: 0,
  diurnalPeakHourUtc: 14,
  arrivalDelayMeanMs: 0,
  futureShare: 0,
  futureSkewMs: 1_800_000,
  coverageBursts: { count: 0, multiplier: 5, durationMs: 1_200_000 },
};

/** The traffic of the measurements: λ = 1.5, Zipf volume, Beta(κ = 40) rates, a daily cycle. */
export const REALISTIC_TRAFFIC: RealismOptions = {
  ...NO_REALISM,
  syndicationLambda: 1.5,
  zipfExponent: 1,
  issuerRateConcentration: 40,
  diurnalAmplitude: 0.6,
  arrivalDelayMeanMs: 60_000,
  futureShare: 0.0002,
  coverageBursts: { count: 2, multiplier: 5, durationMs: 1_200_000 },
};

/**
 * The modest profile the scenario tests and the demo run (docs/scenarios.md): every effect present,
 * at levels a short run on the default rules can carry — each story published 1 + Poisson(0.5) times,
 * Zipf volume (s = 0.5), issuer base rates Beta(κ = 100), records 20 s late on average, one in 2,000
 * stamped 2 minutes ahead (within the allowed lateness). No daily cycle or coverage bursts: the runs
 * last minutes to hours of event time.
 */
export const SCENARIO_REALISM: RealismOptions = {
  ...NO_REALISM,
  syndicationLambda: 0.5,
  zipfExponent: 0.5,
  issuerRateConcentration: 100,
  arrivalDelayMeanMs: 20_000,
  futureShare: 0.0005,
  futureSkewMs: 120_000,
};

/** `--realism`: off, modest (SCENARIO_REALISM), issue (REALISTIC_TRAFFIC) or a JSON object of knobs. */
export function parseRealism(value: string): RealismOptions {
  if (value === 'off') return NO_REALISM;
  if (value === 'modest') return SCENARIO_REALISM;
  if (value === 'issue') return REALISTIC_TRAFFIC;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error(`realism: expected off, modest, issue or a JSON object of knobs, got ${value}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('realism: the JSON must be an object of knobs (src/tools/scenarios/realism.ts)');
  const unknown = Object.keys(parsed).filter((k) => !(k in NO_REALISM));
  if (unknown.length > 0) throw new Error(`realism: unknown knob(s) ${unknown.join(', ')}`);
  return resolveRealism(parsed as Partial<RealismOptions>);
}

export function resolveRealism(o: Partial<RealismOptions> | undefined): RealismOptions {
  const r = {
    ...NO_REALISM,
    ...o,
    coverageBursts: { ...NO_REALISM.coverageBursts, ...o?.coverageBursts },
  };
  const nonNegative: Array<[string, number]> = [
    ['syndicationLambda', r.syndicationLambda],
    ['zipfExponent', r.zipfExponent],
    ['issuerRateConcentration', r.issuerRateConcentration],
    ['arrivalDelayMeanMs', r.arrivalDelayMeanMs],
    ['futureSkewMs', r.futureSkewMs],
  ];
  for (const [name, v] of nonNegative)
    if (!(v >= 0)) throw new Error(`realism.${name} must be a non-negative number`);
  if (!(r.diurnalAmplitude >= 0 && r.diurnalAmplitude < 1))
    throw new Error('realism.diurnalAmplitude must be in [0, 1)');
  for (const [name, v] of [
    ['rewriteShare', r.rewriteShare],
    ['futureShare', r.futureShare],
  ] as const)
    if (!(v >= 0 && v <= 1)) throw new Error(`realism.${name} must be a share in [0, 1]`);
  return r;
}

/** Zipf weights k^−s for ranks 1..n. */
export function zipfWeights(n: number, s: number): number[] {
  return Array.from({ length: n }, (_, k) => Math.pow(k + 1, -s));
}

/** Multiplier of the mean rate at event time t: 1 + a·cos(2π(h − peak)/24); averages 1 over a day. */
export function diurnalFactor(r: Pick<RealismOptions, 'diurnalAmplitude' | 'diurnalPeakHourUtc'>, t: number) {
  if (r.diurnalAmplitude === 0) return 1;
  const hours = (t / 3_600_000) % 24;
  return 1 + r.diurnalAmplitude * Math.cos((2 * Math.PI * (hours - r.diurnalPeakHourUtc)) / 24);
}

/** Poisson(λ) by inversion (λ is small here: republications per story). */
export function poisson(rng: Random, lambda: number): number {
  if (lambda <= 0) return 0;
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = rng.float();
  while (p > limit) {
    k++;
    p *= rng.float();
  }
  return k;
}

/** Gamma(shape, 1), Marsaglia–Tsang (with the shape < 1 boost). */
export function gamma(rng: Random, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(1 - rng.float(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.float();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

function standardNormal(rng: Random): number {
  const u = 1 - rng.float();
  const v = rng.float();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Beta(μκ, (1−μ)κ): mean μ, variance μ(1−μ)/(κ+1). */
export function betaAround(rng: Random, mean: number, concentration: number): number {
  const a = gamma(rng, mean * concentration);
  const b = gamma(rng, (1 - mean) * concentration);
  return a / (a + b);
}

/**
 * Per-issuer multipliers of the base negative rate: Beta draws around `mean`, divided by their
 * volume-weighted mean within each region, so that a region's share stays at its base (issuer spread
 * alone is no regional fairness gap — the ground truth of a null run stays "nothing planted").
 */
export function issuerRateMultipliers<T extends { region: string }>(
  issuers: readonly T[],
  volume: ReadonlyMap<T, number>,
  rng: Random,
  mean: number,
  concentration: number,
): Map<T, number> {
  const out = new Map<T, number>();
  if (concentration <= 0) {
    for (const i of issuers) out.set(i, 1);
    return out;
  }
  const raw = new Map(issuers.map((i) => [i, betaAround(rng, mean, concentration)] as const));
  for (const region of new Set(issuers.map((i) => i.region))) {
    const members = issuers.filter((i) => i.region === region);
    const w = members.reduce((s, i) => s + volume.get(i)!, 0);
    const weighted = members.reduce((s, i) => s + volume.get(i)! * raw.get(i)!, 0) / w;
    for (const i of members) out.set(i, raw.get(i)! / weighted);
  }
  return out;
}

const REWRITES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bsaid\b/, 'stated'],
  [/\bshares\b/, 'stock'],
  [/\bcompany\b/, 'firm'],
  [/\breported\b/, 'posted'],
  [/\bexpects\b/, 'sees'],
];

/**
 * A light rewrite, as a wire's copy desk does it: a word or two changed and an attribution line. The
 * tone and facts stay; near-duplicate detection (src/stats/story.ts) must still see one story.
 */
export function lightRewrite(text: string, rng: Random, outlet: string): string {
  let out = text;
  for (const [pattern, replacement] of REWRITES) if (rng.chance(0.5)) out = out.replace(pattern, replacement);
  return rng.chance(0.5) ? `${out} (${outlet})` : `${outlet} - ${out}`;
}

/** A binary min-heap on a numeric key: pending republications and delayed arrivals. */
export class MinHeap<T> {
  private readonly items: Array<{ key: number; seq: number; value: T }> = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  peekKey(): number | undefined {
    return this.items[0]?.key;
  }

  push(key: number, value: T): void {
    const items = this.items;
    items.push({ key, seq: this.seq++, value });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.less(l, m)) m = l;
        if (r < items.length && this.less(r, m)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top.value;
  }

  /** Ties keep insertion order, so equal keys come out as they went in (deterministic runs). */
  private less(a: number, b: number): boolean {
    const x = this.items[a]!;
    const y = this.items[b]!;
    return x.key < y.key || (x.key === y.key && x.seq < y.seq);
  }
}
