import { describe, expect, it } from 'vitest';
import { toAlertmanagerAlert, type AlertEvent } from '../../../src/alerts/events.js';
import { buildEnrichedRecord, decodeEnriched, encodeEnriched } from '../../../src/codec/enriched.js';
import { parseConfig } from '../../../src/config/load.js';
import type { InputDocument } from '../../../src/domain/documents.js';
import type { StatsObservation } from '../../../src/domain/observation.js';
import { StoryObservationBuilder } from '../../../src/stats/story-observations.js';
import { MemoryStoryExemplars, withStoryExemplars } from '../../../src/stats/story-exemplars.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { scoredEnrichment } from '../../../test/helpers/news-traffic.js';

/**
 * Story ids beside the counts (docs/alerting.md "Surge"): the most negative stories of a group, one
 * entry per story, on the enriched record and on surge alerts; ORG mentions no issuer resolves
 * counted in finsentry_issuer_unresolved_mentions_total.
 */

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 5, 9);

function obs(
  id: string,
  storyId: string | undefined,
  minute: number,
  pNeg: number,
  label: StatsObservation['label'] = 'negative',
): StatsObservation {
  return {
    documentId: id,
    ...(storyId === undefined ? {} : { storyId }),
    eventTimeMs: T0 + minute * MINUTE + 1_000,
    groups: [
      { dimension: '_all', value: 'all' },
      { dimension: 'issuer', value: 'ISS1' },
      { dimension: 'source', value: `outlet-${id}` },
    ],
    label,
    pNeg,
    pPos: (1 - pNeg) / 2,
    polarity: (1 - pNeg) / 2 - pNeg,
    confidence: pNeg,
    tokens: 40,
    unknownTokens: 0,
    truncated: false,
    entityTypes: { ORG: 1 },
  };
}

const exemplars = () =>
  new MemoryStoryExemplars({
    bucketMs: MINUTE,
    dimensions: ['issuer'],
    perBucket: 3,
    retentionMs: 3_600_000,
  });
const query = { dimension: 'issuer', group: 'ISS1', windowMs: 5 * MINUTE, endMs: T0 + 5 * MINUTE, limit: 3 };

describe('story exemplars', () => {
  it('keeps the most negative stories of a group, one per story, at its highest p(negative)', async () => {
    const store = exemplars();
    await store.record([
      obs('a1', 'a', 0, 0.7),
      obs('a2', 'a', 1, 0.95), // a later copy of story a, more negative
      obs('b1', 'b', 1, 0.9),
      obs('c1', undefined, 2, 0.8), // outside stats.stories.kinds: its own story
      obs('d1', 'd', 3, 0.6),
      obs('e1', 'e', 3, 0.99, 'neutral'), // not negative: never an exemplar
    ]);
    expect(await store.topNegative(query)).toEqual([
      { storyId: 'a', pNeg: 0.95 },
      { storyId: 'b', pNeg: 0.9 },
      { storyId: 'c1', pNeg: 0.8 },
    ]);
    // Recording the same batch again (a redelivery) changes nothing.
    await store.record([obs('a1', 'a', 0, 0.7), obs('b1', 'b', 1, 0.9)]);
    expect((await store.topNegative(query)).map((e) => e.storyId)).toEqual(['a', 'b', 'c1']);
    // Only the window's buckets: minutes 2–3 hold stories c1 and d, not a or b.
    expect(await store.topNegative({ ...query, endMs: T0 + 4 * MINUTE, windowMs: 2 * MINUTE })).toEqual([
      { storyId: 'c1', pNeg: 0.8 },
      { storyId: 'd', pNeg: 0.6 },
    ]);
    expect(await store.topNegative({ ...query, group: 'ISS2' })).toEqual([]);
    // Dimensions not configured keep none.
    expect(await store.topNegative({ ...query, dimension: 'source', group: 'outlet-a1' })).toEqual([]);
  });

  it('records what the window store applied, after it', async () => {
    const store = exemplars();
    const applied: string[] = [];
    const sink = withStoryExemplars(
      {
        apply: async (batches) => {
          applied.push(...batches.flatMap((b) => b.observations.map((o) => o.documentId)));
          return batches.map(() => ({ applied: true, late: 0, watermarkMs: T0 }));
        },
      },
      store,
    );
    const batch = {
      partitionKey: 'news.raw:0',
      lastOffset: '1',
      observations: [obs('x', 'x', 0, 0.8)],
      labels: [],
    };
    expect(await sink.apply([batch])).toEqual([{ applied: true, late: 0, watermarkMs: T0 }]);
    expect(applied).toEqual(['x']);
    expect((await store.topNegative(query)).map((e) => e.storyId)).toEqual(['x']);
  });

  it('a surge event carries its story ids to Alertmanager; other alerts carry none', () => {
    const event: AlertEvent = {
      fingerprint: 'f',
      rule: 'NegativeSentimentSurge',
      kind: 'sentiment',
      state: 'firing',
      severity: 'critical',
      dimension: 'issuer',
      group: 'ISS1',
      metric: 'negative_share_surge',
      value: 0.7,
      threshold: 0.5,
      window_ms: 300_000,
      sample_size: 20,
      p_value: 1e-5,
      started_at: T0,
      ended_at: null,
      summary: 's',
      runbook_url: '',
      labels: { story_ids: 'a,b' },
    };
    expect(toAlertmanagerAlert(event)!.annotations.story_ids).toBe('a,b');
    expect(toAlertmanagerAlert({ ...event, labels: {} })!.annotations).not.toHaveProperty('story_ids');
  });
});

describe('story ids on the enriched record, unresolved ORG mentions', () => {
  const master = [
    { id: 'NWEC', name: 'Northwind Energy Corp', aliases: ['Northwind'], tickers: ['NWEC'], region: 'amer' },
  ];
  const doc = (
    id: string,
    text: string,
    orgs: string[],
  ): [InputDocument, ReturnType<typeof scoredEnrichment>] => [
    {
      id,
      kind: 'news',
      eventTimeMs: T0,
      text,
      attributes: { source: 'wire-a', language: 'en', tickers: [] },
      position: { topic: 'news.raw', partition: 0, offset: '0' },
      key: Buffer.from(id),
      headers: {},
    },
    scoredEnrichment('negative', 0.8, orgs),
  ];

  it('writes the story id, which a syndicated copy shares; a record without one has null', () => {
    const stats = parseConfig({ stats: { dimensions: [{ name: 'issuer', from: 'entities.ORG' }] } }).stats;
    const unresolved: number[] = [];
    const builder = new StoryObservationBuilder(stats, master, (n) => unresolved.push(n));
    const text =
      'Northwind Energy Corp cuts guidance after plant outage; shares slide as analysts cut targets';
    const records = [
      doc('n1', text, ['Northwind']),
      doc('n2', text.toUpperCase(), ['Northwind Energy Corp']),
    ].map(([d, e]) => {
      const observation = builder.build(d, e)!;
      const record = buildEnrichedRecord(d, e, {
        groups: observation.groups,
        processingLatencyMs: 1,
        processedAtMs: T0,
        pipelineVersion: 't',
        maxEntities: 10,
        storyId: observation.storyId ?? null,
      });
      return decodeEnriched(encodeEnriched(record));
    });
    expect(records.map((r) => r.story_id)).toEqual(['n1', 'n1']);
    expect(records[0]!.groups).toContainEqual({ dimension: 'issuer', value: 'NWEC' });
    expect(unresolved).toEqual([]);
    const [d, e] = doc('n3', 'Acme Widgets and the Board of Globex fall', [
      'Acme Widgets',
      'Globex',
      'Northwind',
    ]);
    const observation = builder.build(d, e)!;
    expect(observation.groups.filter((g) => g.dimension === 'issuer')).toEqual([
      { dimension: 'issuer', value: 'NWEC' },
    ]);
    expect(unresolved).toEqual([2]);
    const plain = buildEnrichedRecord(d, e, {
      groups: [],
      processingLatencyMs: 1,
      processedAtMs: T0,
      pipelineVersion: 't',
      maxEntities: 10,
    });
    expect(decodeEnriched(encodeEnriched(plain)).story_id).toBeNull();
  });

  it('counts unresolved mentions in finsentry_issuer_unresolved_mentions_total', async () => {
    const metrics = createMetrics({ stats: parseConfig({}).stats });
    metrics.issuerMentionsUnresolved(2);
    metrics.issuerMentionsUnresolved(1);
    expect(await metrics.registry.metrics()).toMatch(/^finsentry_issuer_unresolved_mentions_total 3$/m);
  });
});
