import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SENTIMENT_LABELS, type SentimentLabel } from '../../../src/domain/enrichment.js';
import {
  demographicParityDifference,
  disparateImpactRatio,
  groupRates,
  labelledFairness,
  type GroupCounts,
} from '../../../src/stats/fairness.js';
import { chiSquareHomogeneity, jensenShannonDistance, ksBinned, psi } from '../../../src/stats/drift.js';

/**
 * Oracle test (issue #5): every fairness figure equals Fairlearn's and every drift figure scipy's on
 * the seeded random tables of test/fixtures/stats/oracle.json, within 1e-9 (absolute, and relative for
 * p-values so that tiny p-values are compared meaningfully too).
 */
const FIXTURE = new URL('../../fixtures/stats/oracle.json', import.meta.url).pathname;
const ROOT = new URL('../../../', import.meta.url).pathname;
const PYTHON = join(ROOT, '.venv-py/bin/python');
const TOL = 1e-9;

type Confusion = Record<SentimentLabel, Record<SentimentLabel, number>>;
interface FairnessCase {
  minSamples: number;
  groups: Array<{ group: string; confusion: number[][] }>;
  expected: {
    negativeShare: Record<string, number>;
    wilson: Record<string, [number, number]>;
    zVsRest: Record<string, [number, number]>;
    demographicParityDifference?: number;
    disparateImpactRatio?: number;
    equalizedOddsDifference?: number;
    accuracyGap?: number;
    accuracy?: Record<string, number>;
    tpr?: Record<SentimentLabel, Record<string, number>>;
    fpr?: Record<SentimentLabel, Record<string, number>>;
  };
}
interface HistCase {
  current: number[];
  reference: number[];
  expected: Record<string, number>;
}
interface Fixture {
  psiEpsilon: number;
  fairness: FairnessCase[];
  numeric: HistCase[];
  categorical: HistCase[];
}

const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture;

function close(actual: number | null | undefined, expected: number, what: string, relative = false): void {
  expect(actual, what).not.toBeNull();
  expect(actual, what).toBeDefined();
  const a = actual as number;
  const err = Math.abs(a - expected);
  const ok = err <= TOL && (!relative || expected === 0 || err <= 1e-7 * Math.abs(expected) || err < 1e-300);
  expect(ok, `${what}: got ${a}, expected ${expected}`).toBe(true);
}

function toConfusion(m: number[][]): Confusion {
  const c = {} as Confusion;
  SENTIMENT_LABELS.forEach((a, i) => {
    c[a] = {} as Record<SentimentLabel, number>;
    SENTIMENT_LABELS.forEach((p, j) => (c[a][p] = m[i]![j]!));
  });
  return c;
}

describe('fairness vs Fairlearn', () => {
  it('has cases with judged and unjudged groups', () => {
    expect(fixture.fairness.length).toBeGreaterThanOrEqual(10);
    const unjudged = fixture.fairness.flatMap((c) =>
      c.groups.filter((g) => g.confusion.flat().reduce((s, x) => s + x, 0) < c.minSamples),
    );
    expect(unjudged.length).toBeGreaterThan(0);
  });

  it('has judged groups with undefined TPR or FPR (no actual member or non-member of a class)', () => {
    const undefinedRates = fixture.fairness.flatMap((c) =>
      c.groups.flatMap((g) => {
        const n = g.confusion.flat().reduce((s, x) => s + x, 0);
        if (n < c.minSamples) return [];
        return g.confusion
          .map((row) => row.reduce((s, x) => s + x, 0))
          .filter((members) => members === 0 || members === n);
      }),
    );
    expect(undefinedRates.length).toBeGreaterThan(20);
  });

  fixture.fairness.forEach((c, i) => {
    it(`case ${i}: negative share, Wilson, z vs rest, DPD, DIR, EOD, accuracy`, () => {
      const counts: GroupCounts[] = c.groups.map((g) => ({
        group: g.group,
        n: g.confusion.flat().reduce((s, x) => s + x, 0),
        successes: g.confusion.reduce((s, row) => s + row[0]!, 0),
      }));
      const rates = groupRates(counts, 'negative_share', c.minSamples);
      for (const r of rates) {
        close(r.rate, c.expected.negativeShare[r.group]!, `${r.group} rate`);
        close(r.wilson?.low, c.expected.wilson[r.group]![0], `${r.group} wilson low`);
        close(r.wilson?.high, c.expected.wilson[r.group]![1], `${r.group} wilson high`);
        close(r.vsRest?.z, c.expected.zVsRest[r.group]![0], `${r.group} z`);
        close(r.vsRest?.pValue, c.expected.zVsRest[r.group]![1], `${r.group} p`, true);
      }
      const judged = rates.filter((r) => r.judged);
      if (c.expected.demographicParityDifference === undefined) {
        expect(judged).toHaveLength(0);
        expect(demographicParityDifference(rates).value).toBeNull();
        return;
      }
      close(demographicParityDifference(rates).value, c.expected.demographicParityDifference, 'DPD');
      close(disparateImpactRatio(rates).value, c.expected.disparateImpactRatio!, 'DIR');
      const labelled = labelledFairness(
        c.groups.map((g) => ({ group: g.group, confusion: toConfusion(g.confusion) })),
        c.minSamples,
      );
      close(labelled.equalizedOddsDifference.value, c.expected.equalizedOddsDifference!, 'EOD');
      close(labelled.accuracyGap, c.expected.accuracyGap!, 'accuracy gap');
      for (const g of labelled.groups.filter((x) => x.judged)) {
        close(g.accuracy, c.expected.accuracy![g.group]!, `${g.group} accuracy`);
        for (const label of SENTIMENT_LABELS) {
          close(g.tpr[label], c.expected.tpr![label][g.group]!, `${g.group} TPR ${label}`);
          close(g.fpr[label], c.expected.fpr![label][g.group]!, `${g.group} FPR ${label}`);
        }
      }
      expect(Object.keys(c.expected.accuracy!).sort()).toEqual(
        labelled.groups
          .filter((g) => g.judged)
          .map((g) => g.group)
          .sort(),
      );
    });
  });
});

describe('drift vs scipy', () => {
  fixture.numeric.forEach((c, i) => {
    it(`numeric case ${i}: KS (binned), Jensen-Shannon, PSI`, () => {
      const ks = ksBinned(c.current, c.reference);
      close(ks?.statistic, c.expected.ksStatistic!, 'KS D');
      close(ks?.pValue, c.expected.ksPValueKolmogorov!, 'KS p (Kolmogorov)', true);
      close(jensenShannonDistance(c.current, c.reference), c.expected.jensenShannon!, 'JS');
      close(psi(c.current, c.reference, fixture.psiEpsilon), c.expected.psi!, 'PSI');
    });
  });
  fixture.categorical.forEach((c, i) => {
    it(`categorical case ${i}: chi2_contingency, Jensen-Shannon, PSI`, () => {
      const chi = chiSquareHomogeneity(c.current, c.reference);
      close(chi?.statistic, c.expected.chi2!, 'chi2');
      close(chi?.pValue, c.expected.pValue!, 'chi2 p', true);
      expect(chi?.dof).toBe(c.expected.dof);
      close(jensenShannonDistance(c.current, c.reference), c.expected.jensenShannon!, 'JS');
      close(psi(c.current, c.reference, fixture.psiEpsilon), c.expected.psi!, 'PSI');
    });
  });
});

describe('oracle fixture', () => {
  it.runIf(existsSync(PYTHON))(
    'is up to date with tools/python/stats_reference.py',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'fs-oracle-'));
      try {
        const out = join(dir, 'oracle.json');
        execFileSync(PYTHON, [join(ROOT, 'tools/python/stats_reference.py'), '--out', out], {
          stdio: 'pipe',
          timeout: 240_000,
        });
        expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(fixture);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    // 40 cases with Fairlearn on a shared machine: ~30 s of CPU, minutes of wall time under load
    300_000,
  );
});
