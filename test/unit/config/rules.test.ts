// Alert rules are validated when the config is parsed (src/config/rules.ts): the same refusal for
// `config check` and `run`, each problem named by its path in the file.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

function issuesOf(rules: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): string[] {
  try {
    parseConfig({ ...extra, alerts: { rules } }, {});
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
}

const base = { name: 'R', comparison: '>', threshold: 0.5 };

describe('alert rule validation in the config layer', () => {
  it('accepts the default rules and a valid custom set', () => {
    expect(
      issuesOf([{ ...base, kind: 'sentiment', dimension: 'region', metric: 'negative_share', window: '5m' }]),
    ).toEqual([]);
    expect(issuesOf([{ ...base, kind: 'drift', metric: 'psi', feature: 'tokens', window: '1h' }])).toEqual(
      [],
    );
  });

  it('names an unknown feature, metric and dimension by their path', () => {
    expect(issuesOf([{ ...base, kind: 'drift', metric: 'psi', feature: 'nope' }])).toEqual([
      expect.stringMatching(
        /^alerts\.rules\[0\]\.feature: "nope" is not one of p_neg, polarity, .* \(rule R\)$/,
      ),
    ]);
    expect(issuesOf([{ ...base, kind: 'sentiment', metric: 'psi', dimension: 'issuer' }])).toEqual([
      expect.stringMatching(/^alerts\.rules\[0\]\.metric: "psi" is not one of negative_share/),
    ]);
    expect(issuesOf([{ ...base, kind: 'sentiment', metric: 'negative_share', dimension: 'sector' }])).toEqual(
      [
        expect.stringContaining(
          'alerts.rules[0].dimension: "sector" is not a configured dimension (stats.dimensions: kind, source',
        ),
      ],
    );
  });

  it('checks windows against stats.bucket and the longest stats window', () => {
    const rule = { ...base, kind: 'sentiment', metric: 'negative_share', dimension: 'issuer' };
    expect(issuesOf([{ ...rule, window: '90s' }])).toEqual([
      expect.stringContaining('alerts.rules[0].window: 90s is not a whole number of stats.bucket (1m)'),
    ]);
    expect(issuesOf([{ ...rule, window: '2h' }], { stats: { windows: ['5m', '1h'] } })).toEqual([
      expect.stringContaining('alerts.rules[0].window: 2h is longer than the longest of stats.windows (1h)'),
    ]);
  });

  it('refuses kind mismatches and duplicate names', () => {
    expect(
      issuesOf([
        { ...base, kind: 'sentiment', metric: 'negative_share', feature: 'p_neg' },
        { ...base, kind: 'fairness', metric: 'disparate_impact_ratio' },
        { ...base, kind: 'pipeline', metric: 'consumer_lag', dimension: 'issuer' },
      ]),
    ).toEqual([
      expect.stringContaining('alerts.rules[0].feature: only drift rules have a feature'),
      expect.stringContaining(
        'alerts.rules[1].dimension: a fairness rule compares the groups of a dimension',
      ),
      expect.stringContaining('alerts.rules[1].name: "R" is used by an earlier rule'),
      expect.stringContaining('alerts.rules[2].dimension: pipeline rules have no dimension'),
      expect.stringContaining('alerts.rules[2].name: "R" is used by an earlier rule'),
    ]);
  });
});
