import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultAlertRules } from '../../../src/alerts/default-rules.js';
import {
  alertFingerprint,
  identitiesToStep,
  renderTemplate,
  step,
  type AlertRecord,
  type AlertState,
  type Measurement,
} from '../../../src/alerts/state-machine.js';
import { parseConfig } from '../../../src/config/load.js';
import type { AlertRuleConfig } from '../../../src/config/schema.js';

function rule(raw: Record<string, unknown>): AlertRuleConfig {
  return parseConfig(
    {
      alerts: {
        rules: [{ name: 'Surge', kind: 'sentiment', dimension: 'issuer', metric: 'negative_share', ...raw }],
      },
    },
    {},
  ).alerts!.rules[0]!;
}

const surge = rule({
  comparison: '>',
  threshold: 0.6,
  resolveThreshold: 0.5,
  for: '1m',
  minSamples: 10,
  maxPValue: 0.01,
  summary: '{{group}} at {{value}}',
});

function m(value: number, extra: Partial<Measurement> = {}): Measurement {
  return {
    rule: 'Surge',
    dimension: 'issuer',
    group: 'acme',
    value,
    sampleSize: 50,
    pValue: 0.001,
    judged: true,
    ...extra,
  };
}

/** Runs a sequence of (time, measurement) through the machine, collecting transitions. */
function run(
  r: AlertRuleConfig,
  inputs: Array<[number, Measurement | undefined]>,
): { states: AlertState[]; transitions: Array<[AlertState, AlertState]>; last: AlertRecord | undefined } {
  let rec: AlertRecord | undefined;
  const states: AlertState[] = [];
  const transitions: Array<[AlertState, AlertState]> = [];
  for (const [t, meas] of inputs) {
    const res = step(r, rec, meas, t);
    if (res.transition) transitions.push([res.transition.from, res.transition.to]);
    rec = res.next;
    states.push(rec?.state ?? 'inactive');
  }
  return { states, transitions, last: rec };
}

describe('alert state machine', () => {
  it('goes pending, waits for `for`, fires, keeps firing inside the hysteresis band, then resolves', () => {
    const { states, transitions, last } = run(surge, [
      [0, m(0.3)],
      [10_000, m(0.7)], // breach → pending
      [40_000, m(0.65)], // still pending (30 s < 1 m)
      [70_000, m(0.62)], // 60 s held → firing
      [80_000, m(0.55)], // below threshold but above resolve threshold → still firing
      [90_000, m(0.45)], // below resolve threshold → resolved
      [100_000, m(0.3)],
    ]);
    expect(states).toEqual(['inactive', 'pending', 'pending', 'firing', 'firing', 'resolved', 'resolved']);
    expect(transitions).toEqual([
      ['inactive', 'pending'],
      ['pending', 'firing'],
      ['firing', 'resolved'],
    ]);
    expect(last!.activeSinceMs).toBe(10_000);
    expect(last!.startedAtMs).toBe(70_000);
    expect(last!.endedAtMs).toBe(90_000);
    expect(last!.fingerprint).toBe(alertFingerprint('Surge', 'issuer', 'acme'));
    expect(last!.summary).toBe('acme at 0.450');
  });

  it('returns from pending to inactive when the breach does not last', () => {
    const { transitions, last } = run(surge, [
      [0, m(0.7)],
      [30_000, m(0.4)],
    ]);
    expect(transitions).toEqual([
      ['inactive', 'pending'],
      ['pending', 'inactive'],
    ]);
    expect(last!.state).toBe('inactive');
  });

  it('fires at once with for = 0 (one firing event) and starts a new episode after resolving', () => {
    const instant = rule({ comparison: '>', threshold: 0.6, for: '0s' });
    const { transitions, last } = run(instant, [
      [0, m(0.7)],
      [1_000, m(0.5)],
      [2_000, m(0.9)],
    ]);
    expect(transitions).toEqual([
      ['inactive', 'firing'],
      ['firing', 'resolved'],
      ['resolved', 'firing'],
    ]);
    expect(last!.activeSinceMs).toBe(2_000);
    expect(last!.endedAtMs).toBeNull();
  });

  it('does not fire on insignificant, unjudged or too small groups', () => {
    for (const meas of [
      m(0.9, { pValue: 0.2 }),
      m(0.9, { pValue: undefined }),
      m(0.9, { judged: false }),
      m(0.9, { sampleSize: 5 }),
      m(Number.NaN),
    ]) {
      expect(step(surge, undefined, meas, 0).transition).toBeUndefined();
    }
  });

  it('keeps firing while the group is below min samples but still beyond the resolve threshold', () => {
    const instant = rule({ comparison: '>', threshold: 0.6, resolveThreshold: 0.4, for: '0s' });
    const { transitions, last } = run(instant, [
      [0, m(0.9)],
      [1_000, m(0.85, { judged: false, sampleSize: 5 })], // coverage dips: no evidence it ended
      [2_000, m(0.8)],
      [3_000, m(0.3, { judged: false, sampleSize: 5 })], // recovered, even on few documents
    ]);
    expect(transitions).toEqual([
      ['inactive', 'firing'],
      ['firing', 'resolved'],
    ]);
    expect(last!.endedAtMs).toBe(3_000);
  });

  it('resolves a firing alert whose group disappeared from the window', () => {
    const instant = rule({ comparison: '>', threshold: 0.6, for: '0s' });
    const fired = step(instant, undefined, m(0.9), 0).next!;
    const stored = new Map([[fired.fingerprint, fired]]);
    const ids = identitiesToStep([], stored, 'Surge');
    expect(ids).toHaveLength(1);
    const res = step(instant, ids[0]!.prev, ids[0]!.measurement, 5_000);
    expect(res.transition?.to).toBe('resolved');
  });

  it('property: transitions follow the lifecycle graph, one per state change, firing only after `for`', () => {
    const allowed = new Set([
      'inactive>pending',
      'inactive>firing',
      'pending>firing',
      'pending>inactive',
      'firing>resolved',
      'resolved>pending',
      'resolved>firing',
    ]);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.integer({ min: 1, max: 40_000 }),
            value: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        fc.constantFrom('0s', '30s', '1m'),
        (seq, forText) => {
          const r = rule({ comparison: '>', threshold: 0.6, resolveThreshold: 0.5, for: forText });
          let t = 0;
          let rec: AlertRecord | undefined;
          let prevState: AlertState = 'inactive';
          for (const { dt, value } of seq) {
            t += dt;
            const res = step(r, rec, m(value), t);
            const state = res.next?.state ?? 'inactive';
            if (res.transition) {
              expect(allowed.has(`${res.transition.from}>${res.transition.to}`)).toBe(true);
              expect(res.transition.from).toBe(prevState);
              expect(res.transition.to).toBe(state);
            } else {
              expect(state).toBe(prevState);
            }
            if (state === 'firing' && prevState !== 'firing') {
              expect(value).toBeGreaterThan(0.6);
              expect(t - res.next!.activeSinceMs).toBeGreaterThanOrEqual(r.for);
            }
            if (state === 'firing' && prevState === 'firing') expect(value).toBeGreaterThan(0.5);
            if (state === 'resolved' && prevState === 'firing') expect(value).toBeLessThanOrEqual(0.5);
            rec = res.next;
            prevState = state;
          }
        },
      ),
    );
  });

  it('renders templates and leaves unknown placeholders visible', () => {
    expect(
      renderTemplate('{{rule}} {{ group }} {{value}} {{nope}}', { rule: 'R', group: 'g', value: 0.123456 }),
    ).toBe('R g 0.123 {{nope}}');
  });

  it('ships the default rules of design §7, all valid', () => {
    const rules = defaultAlertRules();
    const names = rules.map((r) => r.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'NegativeSentimentSurge',
        'DisparateImpactRegion',
        'NegativeScoreDrift',
        'TokenLengthDrift',
        'ConfidenceCollapse',
        'DeadLetterRateHigh',
        'ConsumerLagHigh',
        'PipelineStalled',
      ]),
    );
    const surgeRule = rules.find((r) => r.name === 'NegativeSentimentSurge')!;
    expect(surgeRule).toMatchObject({
      dimension: 'issuer',
      metric: 'negative_share_surge',
      referenceWindow: 86_400_000,
      comparison: '>',
      maxPValue: 0.001,
      window: 300_000,
    });
    expect(rules.find((r) => r.name === 'DisparateImpactRegion')).toMatchObject({
      metric: 'disparate_impact_ratio',
      comparison: '<',
      threshold: 0.8,
    });
    expect(rules.find((r) => r.name === 'NegativeScoreDrift')).toMatchObject({
      metric: 'psi',
      feature: 'p_neg',
      threshold: 0.25,
    });
  });
});
