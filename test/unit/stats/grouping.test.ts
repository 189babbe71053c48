import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { InputDocument } from '../../../src/domain/documents.js';
import type { EntitySpan, ScoredEnrichment } from '../../../src/domain/enrichment.js';
import { configSchema } from '../../../src/config/schema.js';
import { buildObservation, MAX_GROUP_LENGTH, sanitizeGroupValue } from '../../../src/stats/grouping.js';
import { HISTOGRAM_BINS, histogramBin, histogramEdges } from '../../../src/stats/histograms.js';
import {
  observationDeltas,
  POLARITY_SCALE,
  rawToGroupStats,
  sumGroupStats,
} from '../../../src/stats/counters.js';

const DIMS = configSchema.parse({
  stats: {
    dimensions: [
      { name: 'kind', from: 'kind' },
      { name: 'source', from: 'source' },
      { name: 'region', from: 'region' },
      { name: 'language', from: 'language' },
      { name: 'ticker', from: 'tickers' },
      { name: 'issuer', from: 'entities.ORG' },
      { name: 'person', from: 'entities.PER' },
      { name: 'etype', from: 'entity_types' },
    ],
  },
}).stats.dimensions;

function entity(type: string, normalized: string): EntitySpan {
  return { type, text: normalized, normalized, start: 0, end: normalized.length, score: 0.9 };
}

function doc(overrides: Partial<InputDocument['attributes']> = {}): InputDocument {
  return {
    id: 'n-1',
    kind: 'news',
    eventTimeMs: 1_767_225_600_000,
    text: 'Apple and Apple Inc. beat estimates; Tim Cook said so.',
    attributes: { source: 'Reuters', language: 'EN', tickers: ['AAPL', 'AAPL', 'MSFT'], ...overrides },
    position: { topic: 'news.raw', partition: 2, offset: '41' },
    key: null,
    headers: {},
  };
}

function enrichment(entities: EntitySpan[]): ScoredEnrichment {
  return {
    sentiment: {
      label: 'positive',
      probabilities: { negative: 0.1, neutral: 0.2, positive: 0.7 },
      polarity: 0.6,
      confidence: 0.7,
      windows: 1,
      truncated: false,
      tokens: 40,
      unknownTokens: 1,
    },
    entities,
    models: [],
  };
}

describe('buildObservation', () => {
  it('drops currency codes from ORG groups by default and the values a dimension excludes', () => {
    const ents = [
      entity('ORG', 'jpy'),
      entity('ORG', 'Toyota Motor'),
      entity('ORG', 'USD'),
      entity('PER', 'eur'),
    ];
    const groups = (dims: unknown) =>
      buildObservation(
        doc({ tickers: ['JPY', 'AAPL'] }),
        enrichment(ents),
        configSchema.parse({ stats: { dimensions: dims } }).stats.dimensions,
      )
        .groups.filter((g) => g.dimension !== '_all')
        .map((g) => `${g.dimension}=${g.value}`);
    expect(
      groups([
        { name: 'issuer', from: 'entities.ORG' },
        { name: 'person', from: 'entities.PER' },
        { name: 'ticker', from: 'tickers' },
      ]),
    ).toEqual(['issuer=toyota motor', 'person=eur', 'ticker=AAPL', 'ticker=JPY']);
    expect(
      groups([
        { name: 'issuer', from: 'entities.ORG', excludeCurrencyCodes: false, exclude: ['toyota motor'] },
        { name: 'ticker', from: 'tickers', excludeCurrencyCodes: true },
      ]),
    ).toEqual(['issuer=jpy', 'issuer=usd', 'ticker=AAPL']);
  });

  it('puts a document in one group per single-valued dimension and once per distinct multi value', () => {
    const obs = buildObservation(
      doc(),
      enrichment([
        entity('ORG', 'apple'),
        entity('ORG', 'apple'),
        entity('ORG', 'apple inc.'),
        entity('PER', 'tim cook'),
      ]),
      DIMS,
    );
    expect(obs.groups).toEqual([
      { dimension: '_all', value: 'all' },
      { dimension: 'kind', value: 'news' },
      { dimension: 'source', value: 'reuters' },
      { dimension: 'region', value: 'unknown' },
      { dimension: 'language', value: 'en' },
      { dimension: 'ticker', value: 'AAPL' },
      { dimension: 'ticker', value: 'MSFT' },
      { dimension: 'issuer', value: 'apple' },
      { dimension: 'issuer', value: 'apple inc.' },
      { dimension: 'person', value: 'tim cook' },
      { dimension: 'etype', value: 'ORG' },
      { dimension: 'etype', value: 'PER' },
    ]);
    expect(obs.entityTypes).toEqual({ ORG: 3, PER: 1 });
    expect(obs.offset).toBe('41');
    expect(obs.polarity).toBe(0.6);
    expect(JSON.stringify(obs)).not.toContain('beat estimates');
  });

  it('gives multi-valued dimensions no group when there is no value', () => {
    const obs = buildObservation(doc({ tickers: [] }), enrichment([]), DIMS);
    expect(obs.groups.filter((g) => ['ticker', 'issuer', 'person', 'etype'].includes(g.dimension))).toEqual(
      [],
    );
  });
});

describe('intersectional dimensions (crossWith)', () => {
  const crossed = configSchema.parse({
    stats: {
      dimensions: [
        { name: 'region_source', from: 'region', crossWith: ['source'], bounded: true },
        { name: 'region', from: 'region' },
      ],
    },
  }).stats.dimensions;

  it('puts a document in exactly one combined group, each part sanitised, a missing part "unknown"', () => {
    const both = buildObservation(doc({ region: 'EMEA', source: 'Wire A' }), enrichment([]), crossed);
    expect(both.groups.filter((g) => g.dimension === 'region_source')).toEqual([
      { dimension: 'region_source', value: 'emea+wire a' },
    ]);
    const noRegion = buildObservation(doc({ source: 'Reuters' }), enrichment([]), crossed);
    expect(noRegion.groups.filter((g) => g.dimension === 'region_source')).toEqual([
      { dimension: 'region_source', value: 'unknown+reuters' },
    ]);
    // the plain dimension is unchanged beside it
    expect(both.groups.find((g) => g.dimension === 'region')!.value).toBe('emea');
  });

  it('refuses to cross a multi-valued source (a document would count in many combinations)', () => {
    const res = configSchema.safeParse({
      stats: { dimensions: [{ name: 'bad', from: 'region', crossWith: ['tickers'] }] },
    });
    expect(res.success).toBe(false);
    expect(JSON.stringify(res.error!.issues)).toMatch(/single-valued sources only/);
  });
});

describe('sanitizeGroupValue', () => {
  it('normalises case, whitespace and odd characters, and caps length', () => {
    expect(sanitizeGroupValue('  Dow  Jones\tNewswires ')).toBe('dow jones newswires');
    expect(sanitizeGroupValue('a{b}c\u0000d:e')).toBe('a_b_c_d_e');
    expect(sanitizeGroupValue('AAPL', { keepCase: true })).toBe('AAPL');
    expect(sanitizeGroupValue('   ')).toBeNull();
    expect(Array.from(sanitizeGroupValue('x'.repeat(500))!)).toHaveLength(MAX_GROUP_LENGTH);
  });

  it('never returns braces, control characters or over-long values (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const v = sanitizeGroupValue(s);
        if (v === null) return;
        expect(v).not.toMatch(/[{}:\p{Cc}]/u);
        expect(Array.from(v).length).toBeLessThanOrEqual(MAX_GROUP_LENGTH);
        expect(sanitizeGroupValue(v)).toBe(v); // idempotent
      }),
    );
  });
});

describe('histograms', () => {
  it('uses the documented bins', () => {
    expect(histogramBin('p_neg', 0)).toBe(0);
    expect(histogramBin('p_neg', 0.049)).toBe(0);
    expect(histogramBin('p_neg', 0.05)).toBe(1);
    expect(histogramBin('p_neg', 1)).toBe(19);
    expect(histogramBin('polarity', -1)).toBe(0);
    expect(histogramBin('polarity', 0)).toBe(10);
    expect(histogramBin('polarity', 1)).toBe(19);
    expect(histogramBin('tokens', 0)).toBe(0);
    expect(histogramBin('tokens', 7)).toBe(0);
    expect(histogramBin('tokens', 8)).toBe(1);
    expect(histogramBin('tokens', 2047)).toBe(8);
    expect(histogramBin('tokens', 1e6)).toBe(9);
    expect(histogramBin('confidence', Number.NaN)).toBe(0);
    for (const f of ['p_neg', 'polarity', 'confidence', 'tokens'] as const)
      expect(histogramEdges(f)).toHaveLength(HISTOGRAM_BINS[f] + 1);
  });

  it('puts every value in the bin whose edges contain it (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (x) => {
        const edges = histogramEdges('p_neg');
        const b = histogramBin('p_neg', x);
        expect(x).toBeGreaterThanOrEqual(edges[b]! - 1e-12);
        expect(x).toBeLessThanOrEqual(edges[b + 1]! + 1e-12);
      }),
    );
  });
});

describe('counters', () => {
  it('round-trips one observation through the integer counter fields', () => {
    const obs = buildObservation(doc(), enrichment([entity('ORG', 'apple')]), DIMS);
    const raw = new Map(observationDeltas(obs));
    const s = rawToGroupStats('region', 'unknown', raw);
    expect(s.count).toBe(1);
    expect(s.labelCounts).toEqual({ negative: 0, neutral: 0, positive: 1 });
    expect(s.polaritySum).toBe(0.6);
    expect(s.polaritySumSquares).toBe(Math.round(0.36 * POLARITY_SCALE) / POLARITY_SCALE);
    expect(s.histograms.p_neg[2]).toBe(1);
    expect(s.histograms.polarity[16]).toBe(1);
    expect(s.histograms.confidence[14]).toBe(1);
    expect(s.histograms.tokens[3]).toBe(1);
    expect(s.tokens).toBe(40);
    expect(s.unknownTokens).toBe(1);
    expect(s.entityTypes).toEqual({ ORG: 1 });
    expect(s.confusion).toBeNull();
    const twice = sumGroupStats('region', 'unknown', [s, s]);
    expect(twice.count).toBe(2);
    expect(twice.histograms.tokens[3]).toBe(2);
  });
});
