// Intervals of the parity figures (src/stats/intervals.ts) and the NER-fragment filter of the report.
import { describe, expect, it } from 'vitest';
import { differenceInterval, ratioInterval } from '../../../../src/stats/intervals.js';
import { isEntityFragment } from '../../../../src/tools/report/fragments.js';
import { ConfigError, parseConfig } from '../../../../src/config/load.js';
import { fairnessDimensions } from '../../../../src/config/rules.js';

describe('parity intervals', () => {
  it("difference: Newcombe's hybrid score interval (his example 56/70 vs 48/80: 0.0524 to 0.3339)", () => {
    const ci = differenceInterval(56, 70, 48, 80)!;
    expect(ci.low).toBeCloseTo(0.052431, 5);
    expect(ci.high).toBeCloseTo(0.333873, 5);
  });

  it('ratio: Katz log interval (10/100 vs 20/100: 0.2466 to 1.0136)', () => {
    const ci = ratioInterval(10, 100, 20, 100)!;
    expect(ci.low).toBeCloseTo(0.246641, 5);
    expect(ci.high).toBeCloseTo(1.01362, 4);
    expect(ratioInterval(0, 100, 20, 100)).toBeNull();
  });
});

describe('NER fragments', () => {
  it('flags one- and two-character values, stop words and values without letters', () => {
    for (const v of ['n', 'y', 'co', 'the', 'Inc', '123', '--']) expect(isEntityFragment(v), v).toBe(true);
    for (const v of ['nwec', 'northwind energy corp', 'bnp paribas', 'ubs'])
      expect(isEntityFragment(v), v).toBe(false);
  });
});

describe('fairness.dimensions', () => {
  it('defaults to the configured dimensions among region, source, language, platform, kind', () => {
    expect(fairnessDimensions(parseConfig({}, {}))).toEqual([
      'region',
      'source',
      'language',
      'platform',
      'kind',
    ]);
  });

  it('refuses issuer and ticker', () => {
    expect(() => parseConfig({ fairness: { dimensions: ['region', 'issuer'] } }, {})).toThrow(ConfigError);
    try {
      parseConfig({ fairness: { dimensions: ['ticker'] } }, {});
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([
        expect.stringContaining(
          'fairness.dimensions[0]: "ticker" groups documents by the tickers they mention',
        ),
      ]);
    }
  });
});
