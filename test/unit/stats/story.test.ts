import { describe, expect, it } from 'vitest';
import { hammingDistance, normalizeText, simHash, StoryDedup, StoryIndex } from '../../../src/stats/story.js';

const BODY =
  'Northwind Energy Corp said on Monday that quarterly revenue fell sharply as refinery outages cut output. ' +
  'The company expects margins to stay under pressure through the winter, and its shares dropped in early trading. ' +
  'Analysts at Harrington Securities lowered their price target, citing weaker demand and higher maintenance costs ' +
  'across the Gulf Coast plants, while the board said it would review the dividend at its next meeting in March.';

describe('story identity', () => {
  it('normalises case, punctuation and whitespace, keeping figures', () => {
    expect(normalizeText('  Shares FELL 4.5%,\n\ttoday! ')).toBe('shares fell 4 5 today');
  });

  it('gives a light rewrite a SimHash within a few bits, an unrelated text a distant one', () => {
    const a = simHash(normalizeText(BODY));
    const rewrite = simHash(
      normalizeText(`${BODY.replace('said', 'stated').replace('shares', 'stock')} (globalwire)`),
    );
    const other = simHash(
      normalizeText(
        'Bluehaven Bancorp raised its full-year guidance after loan growth beat estimates; deposits rose and ' +
          'credit quality improved in every segment, the bank said, and it announced a new buyback programme ' +
          'of up to two billion dollars to be completed by the end of next year, sending the stock higher.',
      ),
    );
    expect(hammingDistance(a, rewrite)).toBeLessThanOrEqual(7);
    expect(hammingDistance(a, other)).toBeGreaterThan(12);
  });

  it('assigns republications (verbatim or lightly rewritten) to the first document; other texts are new stories', () => {
    const index = new StoryIndex();
    const t = Date.UTC(2026, 0, 5, 9);
    expect(index.assign('d1', BODY, t)).toBe('d1');
    expect(index.assign('d2', BODY.toUpperCase(), t + 60_000)).toBe('d1');
    expect(index.assign('d3', `market-ledger - ${BODY.replace('said', 'stated')}`, t + 120_000)).toBe('d1');
    expect(index.assign('d4', 'Northwind Energy Corp shares rose.', t + 130_000)).toBe('d4');
    // short texts match only exactly
    expect(index.assign('d5', 'Northwind Energy Corp shares fell.', t + 140_000)).toBe('d5');
    expect(index.assign('d6', 'northwind energy corp shares rose', t + 150_000)).toBe('d4');
    // outside the window the story is forgotten: a new publication is a new story
    expect(index.assign('d7', BODY, t + 31 * 60_000 + 1)).toBe('d7');
  });

  it('stays bounded: beyond maxStories the oldest stories are forgotten', () => {
    const index = new StoryIndex({ maxStories: 100 });
    for (let i = 0; i < 1000; i++) index.assign(`d${i}`, `story number ${i} about nothing in particular`, i);
    expect(index.size).toBeLessThanOrEqual(101);
  });

  it('admits a story once per group within the TTL, again in another group or after the TTL', () => {
    const dedup = new StoryDedup(1_800_000);
    expect(dedup.admit('issuer', 'nwec', 's1', 0)).toBe(true);
    expect(dedup.admit('issuer', 'nwec', 's1', 60_000)).toBe(false);
    expect(dedup.admit('issuer', 'bhbc', 's1', 60_000)).toBe(true);
    expect(dedup.admit('issuer', 'nwec', 's2', 60_000)).toBe(true);
    expect(dedup.admit('issuer', 'nwec', 's1', 1_800_000)).toBe(true);
  });
});
