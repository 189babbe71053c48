import { describe, expect, it } from 'vitest';
import { defaultAlertRules } from '../../../src/alerts/default-rules.js';
import {
  measureRule,
  referenceKey,
  validateRule,
  windowKey,
  type EvaluationInputs,
} from '../../../src/alerts/measure.js';
import { breaches } from '../../../src/alerts/state-machine.js';
import type { GroupWindowStats } from '../../../src/domain/windows.js';
import { emptyGroupStats } from '../../../src/stats/counters.js';
import { judgeSurges } from '../../../src/stats/surge.js';

function group(name: string, n: number, negative: number): GroupWindowStats {
  const g = emptyGroupStats('issuer', name);
  g.count = n;
  g.labelCounts.negative = negative;
  g.labelCounts.neutral = n - negative;
  return g;
}

const rule = defaultAlertRules().find((r) => r.name === 'NegativeSentimentSurge')!;
const key = windowKey('issuer', rule.window);

function inputs(current: GroupWindowStats[], reference: GroupWindowStats[]): EvaluationInputs {
  // The rule's own 24 h reference (referenceWindow), keyed apart from the evaluator's trailing one.
  return {
    current: new Map([[key, current]]),
    reference: new Map([[referenceKey(rule), reference]]),
    pipeline: null,
  };
}

/** 30 issuers with their own (different) usual rates, and a current window at those rates. */
function market(): { current: GroupWindowStats[]; reference: GroupWindowStats[] } {
  const reference: GroupWindowStats[] = [];
  const current: GroupWindowStats[] = [];
  for (let i = 0; i < 30; i++) {
    const rate = 0.1 + 0.3 * (i / 29); // 0.10 … 0.40
    reference.push(group(`i${i}`, 2000, Math.round(2000 * rate)));
    current.push(group(`i${i}`, 20, Math.round(20 * rate)));
  }
  return { current, reference };
}

describe('surge rule (negative_share_surge)', () => {
  it('is a valid sentiment metric of the shipped rule, with a 24 h reference', () => {
    expect(validateRule(rule)).toBeUndefined();
    expect(rule).toMatchObject({
      metric: 'negative_share_surge',
      referenceWindow: 86_400_000,
      minSamples: 10,
    });
  });

  it('fires for the issuer whose stories turn negative, not for a usually gloomy one at its own rate', () => {
    const { current, reference } = market();
    current[3] = group('i3', 20, 15); // usual ≈ 0.13, now 0.75
    current[29] = group('i29', 20, 11); // usual 0.40, now 0.55: above 0.5 but at its own rate
    const ms = measureRule(rule, inputs(current, reference), 30);
    expect(ms.filter((m) => breaches(rule, m)).map((m) => m.group)).toEqual(['i3']);
    const i3 = ms.find((m) => m.group === 'i3')!;
    expect(i3.value).toBeCloseTo(0.75, 12);
    // the measurement's p-value is the BH-adjusted one of the round
    const { judgements } = judgeSurges(
      current.map((g) => ({ group: g.group, hits: g.labelCounts.negative, n: g.count })),
      reference.map((g) => ({ group: g.group, hits: g.labelCounts.negative, n: g.count })),
      10,
    );
    expect(i3.pValue).toBe(judgements.find((j) => j.group === 'i3')!.qValue);
    expect(i3.detail).toMatch(/BH q=/);
  });

  it('judges a new issuer against the pool (wide: issuers differ), and leaves groups below min samples unjudged', () => {
    const { current, reference } = market();
    const ms = measureRule(
      rule,
      inputs([...current, group('newco', 20, 19), group('tiny', 4, 4)], reference),
      30,
    );
    expect(ms.find((m) => m.group === 'newco')!.detail).toMatch(/reference 0\.2/);
    expect(
      breaches(
        rule,
        ms.find((m) => m.group === 'newco'),
      ),
    ).toBe(true);
    expect(ms.find((m) => m.group === 'tiny')!.judged).toBe(false);
  });

  it('one more document in the history moves the reference a little: no switch between own and pooled', () => {
    const { current, reference } = market();
    const at = (n: number) => {
      const ref = [...reference, group('x', n, 9)];
      const ms = measureRule(rule, inputs([...current, group('x', 24, 13)], ref), 30);
      return ms.find((m) => m.group === 'x')!;
    };
    const p19 = at(19).pValue!;
    const p20 = at(20).pValue!;
    expect(Math.abs(Math.log10(p19) - Math.log10(p20))).toBeLessThan(0.5);
  });
});
