import { describe, expect, it } from 'vitest';
import type { NewsArticleRecord } from '../../../../src/codec/records.js';
import {
  generateScenario,
  selectUniverse,
  type ScenarioOptions,
} from '../../../../src/tools/scenarios/generate.js';
import { Random } from '../../../../src/tools/scenarios/random.js';
import {
  betaAround,
  diurnalFactor,
  MinHeap,
  poisson,
  REALISTIC_TRAFFIC,
  resolveRealism,
  zipfWeights,
} from '../../../../src/tools/scenarios/realism.js';

const START = Date.UTC(2026, 0, 5, 0, 0, 0);
const HOUR = 3_600_000;

function run(options: Partial<ScenarioOptions> & Pick<ScenarioOptions, 'name'>) {
  const r = generateScenario({
    seed: 7,
    startMs: START,
    durationMs: HOUR,
    ratePerSecond: 3,
    universeSize: 40,
    ...options,
  });
  return { truth: r.truth, messages: [...r.messages] };
}

describe('realism building blocks', () => {
  it('draws Poisson and Beta variates with the stated means and spread', () => {
    const rng = Random.fromSeed(1);
    const n = 20_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += poisson(rng, 1.5);
    expect(sum / n).toBeCloseTo(1.5, 1);
    const betas = Array.from({ length: n }, () => betaAround(rng, 0.2, 40));
    const mean = betas.reduce((s, x) => s + x, 0) / n;
    const variance = betas.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
    expect(mean).toBeCloseTo(0.2, 2);
    // Beta(μκ, (1−μ)κ) variance μ(1−μ)/(κ+1) = 0.16/41
    expect(variance).toBeCloseTo(0.16 / 41, 3);
  });

  it('weights issuers by Zipf, cycles volume over the day around a mean of 1, and orders a heap stably', () => {
    expect(zipfWeights(3, 1)).toEqual([1, 0.5, 1 / 3]);
    const r = { diurnalAmplitude: 0.6, diurnalPeakHourUtc: 14 };
    expect(diurnalFactor(r, 14 * HOUR)).toBeCloseTo(1.6, 10);
    expect(diurnalFactor(r, 2 * HOUR)).toBeCloseTo(0.4, 10);
    const day = Array.from({ length: 24 }, (_, h) => diurnalFactor(r, h * HOUR));
    expect(day.reduce((s, x) => s + x, 0) / 24).toBeCloseTo(1, 10);
    const heap = new MinHeap<string>();
    for (const [k, v] of [
      [3, 'c'],
      [1, 'a'],
      [2, 'b1'],
      [2, 'b2'],
    ] as const)
      heap.push(k, v);
    expect([heap.pop(), heap.pop(), heap.pop(), heap.pop(), heap.pop()]).toEqual([
      'a',
      'b1',
      'b2',
      'c',
      undefined,
    ]);
  });

  it('rejects out-of-range knobs with the knob named', () => {
    expect(() => resolveRealism({ syndicationLambda: -1 })).toThrow(/syndicationLambda/);
    expect(() => resolveRealism({ diurnalAmplitude: 1 })).toThrow(/diurnalAmplitude/);
    expect(() => resolveRealism({ futureShare: 2 })).toThrow(/futureShare/);
  });

  it('extends the universe beyond the 60 written issuers with distinct invented ones', () => {
    const u = selectUniverse(500);
    expect(u).toHaveLength(500);
    expect(new Set(u.map((i) => i.ticker)).size).toBe(500);
    expect(new Set(u.map((i) => i.name.toLowerCase())).size).toBe(500);
  });
});

describe('realistic scenario traffic', () => {
  it('without realism, every document is its own story and arrives at its event time', () => {
    const { messages } = run({ name: 'clean' });
    expect(messages.every((m) => m.storyId === m.id && m.arrivalMs === m.eventTimeMs)).toBe(true);
  });

  it('republishes a news story 1 + Poisson(λ) times across other outlets, minutes later, with its tone', () => {
    const { messages } = run({ name: 'clean', realism: { syndicationLambda: 1.5 } });
    const news = messages.filter((m) => m.topic === 'news');
    const byStory = new Map<string, typeof news>();
    for (const m of news) byStory.set(m.storyId, [...(byStory.get(m.storyId) ?? []), m]);
    const copies = [...byStory.values()].map((s) => s.length - 1);
    expect(copies.reduce((s, x) => s + x, 0) / copies.length).toBeGreaterThan(1.2);
    expect(copies.reduce((s, x) => s + x, 0) / copies.length).toBeLessThan(1.8);
    let rewritten = 0;
    for (const story of byStory.values()) {
      const [first, ...rest] = story;
      for (const copy of rest) {
        expect(copy.truth).toBe(first!.truth);
        expect(copy.issuer).toBe(first!.issuer);
        expect((copy.record as NewsArticleRecord).source).not.toBe(
          (first!.record as NewsArticleRecord).source,
        );
        expect(copy.eventTimeMs).toBeGreaterThanOrEqual(first!.eventTimeMs);
        if ((copy.record as NewsArticleRecord).body !== (first!.record as NewsArticleRecord).body)
          rewritten++;
      }
    }
    expect(rewritten).toBeGreaterThan(0);
    // Event-time order holds (no delays configured): the copies are interleaved, not appended.
    for (let i = 1; i < messages.length; i++)
      if (messages[i]!.topic !== 'labels')
        expect(messages[i]!.eventTimeMs).toBeGreaterThanOrEqual(messages[i - 1]!.eventTimeMs);
  });

  it('skews issuer volume (Zipf) and spreads issuer base rates, while each region keeps its base share', () => {
    const { messages } = run({
      name: 'clean',
      durationMs: 3 * HOUR,
      realism: { zipfExponent: 1, issuerRateConcentration: 20 },
    });
    const counts = new Map<string, { n: number; neg: number }>();
    for (const m of messages) {
      const c = counts.get(m.issuer.ticker) ?? { n: 0, neg: 0 };
      c.n++;
      if (m.truth === 'negative') c.neg++;
      counts.set(m.issuer.ticker, c);
    }
    const sorted = [...counts.values()].sort((a, b) => b.n - a.n);
    expect(sorted[0]!.n).toBeGreaterThan(8 * sorted[sorted.length - 1]!.n);
    const bigOnes = sorted.filter((c) => c.n >= 300).map((c) => c.neg / c.n);
    expect(Math.max(...bigOnes) - Math.min(...bigOnes)).toBeGreaterThan(0.1);
    for (const region of ['amer', 'emea', 'apac', 'latam']) {
      const docs = messages.filter((m) => m.issuer.region === region);
      expect(docs.filter((m) => m.truth === 'negative').length / docs.length).toBeCloseTo(0.18, 1);
    }
  });

  it('delivers in arrival order with exponential delays, and a few records stamped in the future', () => {
    const { messages } = run({
      name: 'clean',
      realism: { arrivalDelayMeanMs: 60_000, futureShare: 0.002, futureSkewMs: 1_800_000 },
    });
    const docs = messages.filter((m) => m.topic !== 'labels');
    for (let i = 1; i < docs.length; i++)
      expect(docs[i]!.arrivalMs).toBeGreaterThanOrEqual(docs[i - 1]!.arrivalMs);
    const delays = docs.map((m) => m.arrivalMs - m.eventTimeMs).filter((d) => d >= 0);
    expect(delays.reduce((s, d) => s + d, 0) / delays.length).toBeGreaterThan(50_000);
    expect(delays.reduce((s, d) => s + d, 0) / delays.length).toBeLessThan(70_000);
    const future = docs.filter((m) => m.eventTimeMs - m.arrivalMs === 1_800_000);
    expect(future.length).toBeGreaterThan(0);
    expect(future.length).toBeLessThan(0.01 * docs.length);
  });

  it('plants coverage bursts with unchanged tone in the ground truth, expecting no alert for them', () => {
    const { truth, messages } = run({
      name: 'clean',
      durationMs: 2 * HOUR,
      realism: { coverageBursts: { count: 1, multiplier: 8, durationMs: 20 * 60_000 } },
    });
    const burst = truth.injected.find((e) => e.kind === 'coverage-burst')!;
    expect(burst).toBeDefined();
    expect(truth.expectedAlerts).toEqual([]);
    const about = messages.filter((m) => m.issuer.name.toLowerCase() === burst.groups[0]!.group);
    const inside = about.filter((m) => m.eventTimeMs >= burst.fromMs && m.eventTimeMs < burst.toMs);
    const rateInside = inside.length / (burst.toMs - burst.fromMs);
    const rateOutside =
      (about.length - inside.length) / (truth.endMs - truth.startMs - (burst.toMs - burst.fromMs));
    expect(rateInside).toBeGreaterThan(4 * rateOutside);
  });

  it('a compliant regional gap (true ratio 0.9) expects no disparate-impact alert; a violation (0.6) does', () => {
    const compliant = generateScenario({
      name: 'region-bias',
      seed: 1,
      startMs: START,
      durationMs: HOUR,
      ratePerSecond: 1,
      bias: { disparateImpact: 0.9 },
    }).truth;
    expect(compliant.injected[0]!.params.expectedDisparateImpact).toBeCloseTo(0.9, 10);
    expect(compliant.expectedAlerts.filter((a) => a.kind === 'fairness')).toEqual([]);
    const violation = generateScenario({
      name: 'region-bias',
      seed: 1,
      startMs: START,
      durationMs: HOUR,
      ratePerSecond: 1,
      bias: { disparateImpact: 0.6 },
    }).truth;
    expect(violation.expectedAlerts.some((a) => a.rule === 'DisparateImpactRegion')).toBe(true);
  });

  it('the realistic profile keeps a run deterministic by seed', () => {
    const a = run({ name: 'clean', realism: REALISTIC_TRAFFIC });
    const b = run({ name: 'clean', realism: REALISTIC_TRAFFIC });
    expect(a.messages.map((m) => `${m.id}:${m.arrivalMs}:${m.storyId}`)).toEqual(
      b.messages.map((m) => `${m.id}:${m.arrivalMs}:${m.storyId}`),
    );
  });
});
