import { describe, expect, it } from 'vitest';
import type { ExpectedAlert } from '../../../../src/tools/scenarios/ground-truth.js';
import { scoreScenario, type ObservedAlert } from '../../../../src/tools/scenarios/scoring.js';

const MIN = 60_000;
const surge: ExpectedAlert = {
  rule: 'NegativeSentimentSurge',
  kind: 'sentiment',
  dimension: 'issuer',
  group: 'northwind energy corp',
  fromMs: 60 * MIN,
  toMs: 90 * MIN,
  detectWithinMs: 12 * MIN,
  resolveWithinMs: 10 * MIN,
};
const bias: ExpectedAlert = {
  rule: 'DisparateImpactRegion',
  kind: 'fairness',
  dimension: 'region',
  group: 'apac',
  fromMs: 0,
  toMs: 120 * MIN,
  detectWithinMs: 20 * MIN,
  resolveWithinMs: null,
};

function alert(partial: Partial<ObservedAlert> & Pick<ObservedAlert, 'rule'>): ObservedAlert {
  return { dimension: null, group: null, firingAtMs: null, resolvedAtMs: null, ...partial };
}

describe('scenario scoring', () => {
  it('passes when every expected alert fires within its allowance and resolves in time, nothing else fires', () => {
    const score = scoreScenario({ expectedAlerts: [surge, bias] }, [
      alert({
        rule: 'NegativeSentimentSurge',
        dimension: 'issuer',
        group: 'northwind energy corp',
        firingAtMs: 66 * MIN,
        resolvedAtMs: 96 * MIN,
      }),
      alert({ rule: 'DisparateImpactRegion', dimension: 'region', group: null, firingAtMs: 9 * MIN }),
      alert({ rule: 'NegativeSentimentSurge', dimension: 'issuer', group: 'bluehaven bancorp' }), // pending only: not an alert
    ]);
    expect(score.pass).toBe(true);
    expect(
      score.detections.map((d) => [
        d.expected.rule,
        d.delayMs,
        d.withinAllowance,
        d.resolveDelayMs,
        d.resolvedInTime,
      ]),
    ).toEqual([
      ['NegativeSentimentSurge', 6 * MIN, true, 6 * MIN, true],
      ['DisparateImpactRegion', 9 * MIN, true, null, null],
    ]);
    expect(score.falseAlerts).toEqual([]);
  });

  it('counts an alert on an alias of the expected group (the cashtag form of an issuer) as the detection', () => {
    const aliased: ExpectedAlert = { ...surge, aliases: ['nwec'] };
    const score = scoreScenario({ expectedAlerts: [aliased] }, [
      alert({
        rule: 'NegativeSentimentSurge',
        dimension: 'issuer',
        group: 'nwec',
        firingAtMs: 67 * MIN,
        resolvedAtMs: 95 * MIN,
      }),
      alert({ rule: 'NegativeSentimentSurge', dimension: 'issuer', group: 'bhbc', firingAtMs: 70 * MIN }),
    ]);
    expect(score.detections.map((d) => [d.detected, d.delayMs])).toEqual([[true, 7 * MIN]]);
    expect(score.falseAlerts.map((f) => f.group)).toEqual(['bhbc']);
    expect(score.pass).toBe(false);
  });

  it('reports an alert the ground truth tolerates apart, from the tolerated time on only', () => {
    const tolerated = {
      rule: 'NegativeScoreDrift',
      kind: 'drift' as const,
      feature: 'p_neg',
      fromMs: 40 * MIN,
      why: 'model output drift',
    };
    const drift = (firingAtMs: number) => alert({ rule: 'NegativeScoreDrift', feature: 'p_neg', firingAtMs });
    const after = scoreScenario({ expectedAlerts: [], toleratedAlerts: [tolerated] }, [drift(70 * MIN)]);
    expect([after.tolerated.length, after.falseAlerts.length, after.pass]).toEqual([1, 0, true]);
    const before = scoreScenario({ expectedAlerts: [], toleratedAlerts: [tolerated] }, [drift(20 * MIN)]);
    expect([before.tolerated.length, before.falseAlerts.length, before.pass]).toEqual([0, 1, false]);
  });

  it('fails on a late detection, a missing one, a late resolution, and names false alerts', () => {
    const late = scoreScenario({ expectedAlerts: [surge] }, [
      alert({
        rule: 'NegativeSentimentSurge',
        dimension: 'issuer',
        group: 'northwind energy corp',
        firingAtMs: 75 * MIN,
        resolvedAtMs: 130 * MIN,
      }),
    ]);
    expect(late.pass).toBe(false);
    expect(late.detections[0]).toMatchObject({
      detected: true,
      delayMs: 15 * MIN,
      withinAllowance: false,
      resolvedInTime: false,
    });

    const wrongGroup = alert({
      rule: 'NegativeSentimentSurge',
      dimension: 'issuer',
      group: 'oakmont financial group',
      firingAtMs: 70 * MIN,
    });
    const missed = scoreScenario(
      { expectedAlerts: [surge] },
      [wrongGroup, alert({ rule: 'ConsumerLagHigh', firingAtMs: MIN })],
      { ignoreRules: ['ConsumerLagHigh'] },
    );
    expect(missed.detections[0]).toMatchObject({ detected: false, delayMs: null, withinAllowance: false });
    expect(missed.falseAlerts).toEqual([wrongGroup]);
    expect(missed.pass).toBe(false);
  });

  it('counts any alert on clean traffic as false, and an alert before the injection as false', () => {
    const early = alert({
      rule: 'NegativeSentimentSurge',
      dimension: 'issuer',
      group: 'northwind energy corp',
      firingAtMs: 30 * MIN,
      resolvedAtMs: 35 * MIN,
    });
    expect(scoreScenario({ expectedAlerts: [] }, [early]).falseAlerts).toEqual([early]);
    const score = scoreScenario({ expectedAlerts: [surge] }, [early]);
    expect(score.falseAlerts).toEqual([early]);
    expect(score.detections[0]!.detected).toBe(false);
    expect(scoreScenario({ expectedAlerts: [] }, []).pass).toBe(true);
  });
});
