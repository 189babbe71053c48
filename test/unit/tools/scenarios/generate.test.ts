import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defaultAlertRules } from '../../../../src/alerts/default-rules.js';
import { AvroDecoder } from '../../../../src/codec/decode.js';
import type { ChatMessageRecord, LabelRecord, NewsArticleRecord } from '../../../../src/codec/records.js';
import { schemaType } from '../../../../src/codec/schemas.js';
import { SchemaRegistry } from '../../../../src/codec/registry.js';
import { validateChat, validateNews } from '../../../../src/codec/validate.js';
import { AuthorPseudonymiser } from '../../../../src/privacy/pseudonymise.js';
import {
  BASELINE_MIX,
  generateScenario,
  selectUniverse,
  type ScenarioMessage,
} from '../../../../src/tools/scenarios/generate.js';
import { BROKERS, DRIFT_SOURCE, ISSUERS, issuerGroup } from '../../../../src/tools/scenarios/universe.js';
import { generateAll, HOUR, IDS, START } from '../../../helpers/generated-scenario.js';

const run = generateAll;

function digest(messages: ScenarioMessage[]): string {
  const h = createHash('sha256');
  for (const m of messages)
    h.update(m.topic)
      .update(m.key)
      .update(m.value)
      .update(JSON.stringify(m.headers))
      .update(String(m.eventTimeMs));
  return h.digest('hex');
}

function text(m: ScenarioMessage): string {
  return m.topic === 'news'
    ? `${(m.record as NewsArticleRecord).headline}\n\n${(m.record as NewsArticleRecord).body}`
    : (m.record as ChatMessageRecord).text;
}

function negativeShare(messages: ScenarioMessage[]): number {
  const docs = messages.filter((m) => m.truth !== null);
  return docs.filter((m) => m.truth === 'negative').length / docs.length;
}

describe('scenario generator', () => {
  it('is deterministic by seed and differs across seeds', () => {
    const a = run({ name: 'mixed', durationMs: HOUR / 2 });
    const b = run({ name: 'mixed', durationMs: HOUR / 2 });
    const c = run({ name: 'mixed', durationMs: HOUR / 2, seed: 43 });
    expect(a.messages.length).toBeGreaterThan(1000);
    expect(digest(a.messages)).toBe(digest(b.messages));
    expect(a.truth).toEqual(b.truth);
    expect(digest(c.messages)).not.toBe(digest(a.messages));
  });

  it('emits a Poisson stream in event-time order inside the run, at the requested event rate', () => {
    const { truth, messages } = run({ name: 'clean' });
    const expected = 2 * 2 * 3600; // rate × seconds
    // Poisson count: 5 standard deviations
    expect(Math.abs(messages.length - expected)).toBeLessThan(5 * Math.sqrt(expected));
    for (let i = 1; i < messages.length; i++)
      expect(messages[i]!.eventTimeMs).toBeGreaterThanOrEqual(messages[i - 1]!.eventTimeMs);
    expect(messages[0]!.eventTimeMs).toBeGreaterThanOrEqual(START);
    expect(messages.at(-1)!.eventTimeMs).toBeLessThan(START + 2 * HOUR);
    expect(truth.complete).toBe(true);
    expect(truth.counts.total).toBe(messages.length);
    expect(truth.counts.byTopic.news + truth.counts.byTopic.chat).toBe(messages.length);
    expect(new Set(messages.map((m) => m.id)).size).toBe(messages.length);
    // Both framings are used when schema ids are known; plain only without them.
    expect(new Set(messages.map((m) => m.framing))).toEqual(new Set(['plain', 'confluent']));
    const plainOnly = generateScenario({
      name: 'clean',
      seed: 1,
      startMs: START,
      durationMs: 600_000,
      ratePerSecond: 2,
    });
    expect(new Set([...plainOnly.messages].map((m) => m.framing))).toEqual(new Set(['plain']));
  });

  it('clean traffic injects nothing, expects no alert and keeps every region at the baseline mix', () => {
    const { truth, messages } = run({ name: 'clean', ratePerSecond: 4 });
    expect(truth.injected).toEqual([]);
    expect(truth.expectedAlerts).toEqual([]);
    expect(truth.expectedDeadLetters).toEqual([]);
    for (const region of ['amer', 'emea', 'apac', 'latam']) {
      const share = negativeShare(messages.filter((m) => m.issuer.region === region));
      expect(share).toBeGreaterThan(BASELINE_MIX.negative - 0.03);
      expect(share).toBeLessThan(BASELINE_MIX.negative + 0.03);
    }
  });

  it('issuer-surge raises the negative share and coverage of one issuer only during the surge, regions unchanged', () => {
    // Full universe: 18 amer issuers can offset the surge issuer's negatives within the region.
    const { truth, messages } = run({ name: 'issuer-surge', ratePerSecond: 6, universeSize: 60 });
    const surge = truth.injected.find((e) => e.kind === 'surge')!;
    const ticker = surge.groups.find((g) => g.dimension === 'ticker')!.group;
    const issuer = ISSUERS.find((i) => i.ticker === ticker)!;
    expect(surge.groups).toContainEqual({
      dimension: 'issuer',
      group: issuerGroup(issuer),
      aliases: [issuer.ticker.toLowerCase()],
    });
    expect(surge.params).toMatchObject({ peakMultiplier: 4, peakMarketScale: 1 });
    const ramp = Number(surge.params.rampMs);
    const plateau = messages.filter(
      (m) => m.eventTimeMs >= surge.fromMs + ramp && m.eventTimeMs < surge.toMs - ramp,
    );
    const before = messages.filter((m) => m.eventTimeMs < surge.fromMs);
    const after = messages.filter((m) => m.eventTimeMs >= surge.toMs);
    const about = (list: ScenarioMessage[]) => list.filter((m) => m.issuer.ticker === ticker);

    expect(negativeShare(about(plateau))).toBeGreaterThan(0.65); // peakNegativeShare 0.75
    expect(negativeShare(about(before))).toBeLessThan(0.3);
    expect(negativeShare(about(after))).toBeLessThan(0.3);
    // Coverage: the issuer weighs 4 times its 17 peers at the plateau: 4/21 of amer instead of 1/18.
    const coverage = (list: ScenarioMessage[]) => about(list).length / list.length;
    expect(coverage(plateau)).toBeGreaterThan(2.5 * coverage(before));
    // The surge is an issuer event, not a regional fairness gap: every region stays at the baseline.
    for (const r of ['amer', 'emea', 'apac', 'latam']) {
      expect(
        Math.abs(negativeShare(plateau.filter((m) => m.issuer.region === r)) - BASELINE_MIX.negative),
        r,
      ).toBeLessThan(0.035);
    }
    // The surge issuer's texts name no other organisation, so the surge stays on its own issuer group.
    for (const m of about(messages)) for (const broker of BROKERS) expect(text(m)).not.toContain(broker);

    expect(truth.expectedAlerts).toHaveLength(1);
    expect(truth.expectedAlerts[0]).toMatchObject({
      rule: 'NegativeSentimentSurge',
      dimension: 'issuer',
      group: issuerGroup(issuer),
      fromMs: surge.fromMs,
      toMs: surge.toMs,
      // The 2-hour run goes on for 36 minutes after the surge: it must resolve within one window,
      // the rule's `for` and 5 minutes.
      resolveWithinMs: 5 * 60_000 + 60_000 + 300_000,
    });
  });

  it('expects a resolution only when the run lasts long enough after the effect to see it', () => {
    const { truth } = run({ name: 'issuer-surge', durationMs: 30 * 60_000 });
    const surge = truth.injected.find((e) => e.kind === 'surge')!;
    // 9 minutes of run after the surge: less than the 11-minute resolution allowance.
    expect(truth.endMs - surge.toMs).toBe(9 * 60_000);
    expect(truth.expectedAlerts.map((a) => a.resolveWithinMs)).toEqual([null]);
  });

  it('issuer-surge in a small universe keeps coverage and scales all regions together, so regional ratios hold', () => {
    const { truth, messages } = run({ name: 'mixed', ratePerSecond: 6, universeSize: 16 });
    const surge = truth.injected.find((e) => e.kind === 'surge')!;
    const bias = truth.injected.find((e) => e.kind === 'bias')!;
    expect(surge.params.peakMultiplier).toBe(1); // 4 amer issuers cannot offset more coverage
    const scale = Number(surge.params.peakMarketScale);
    expect(scale).toBeGreaterThan(1.1);
    expect(scale).toBeLessThan(1.3);
    const ramp = Number(surge.params.rampMs);
    const plateau = messages.filter(
      (m) => m.eventTimeMs >= surge.fromMs + ramp && m.eventTimeMs < surge.toMs - ramp,
    );
    const share = (r: string) => negativeShare(plateau.filter((m) => m.issuer.region === r));
    // The planted region bias keeps its ratio to the other regions during the surge.
    const biased = bias.groups[0]!.group;
    for (const r of ['amer', 'emea', 'apac', 'latam'].filter((x) => x !== biased)) {
      expect(share(r) / share(biased)).toBeGreaterThan(0.45);
      expect(share(r) / share(biased)).toBeLessThan(0.75); // 0.18 / 0.30 = 0.6
    }
  });

  it('region-bias makes one region markedly more negative for the whole run and expects the disparate-impact alert', () => {
    const { truth, messages } = run({ name: 'region-bias', ratePerSecond: 4 });
    const bias = truth.injected.find((e) => e.kind === 'bias')!;
    const region = bias.groups[0]!.group;
    const biased = negativeShare(messages.filter((m) => m.issuer.region === region));
    expect(biased).toBeGreaterThan(Number(bias.params.negativeShare) - 0.04);
    expect(biased).toBeLessThan(Number(bias.params.negativeShare) + 0.04);
    for (const other of ['amer', 'emea', 'apac', 'latam'].filter((r) => r !== region)) {
      const share = negativeShare(messages.filter((m) => m.issuer.region === other));
      expect(share / biased).toBeLessThan(0.8); // the four-fifths rule is breached on the truth itself
    }
    expect(truth.expectedAlerts.map((a) => [a.rule, a.dimension, a.group])).toEqual([
      ['DisparateImpactRegion', 'region', region],
    ]);
    // Region is carried on every record so that the region dimension sees it.
    for (const m of messages.slice(0, 200))
      expect((m.record as NewsArticleRecord | ChatMessageRecord).region).toBe(m.issuer.region);
  });

  it('drift shifts length, vocabulary and source mix gradually while intended sentiment stays put', () => {
    const { truth, messages } = run({ name: 'drift', ratePerSecond: 4 });
    const drift = truth.injected.find((e) => e.kind === 'drift')!;
    expect(drift.features).toContain('tokens');
    const before = messages.filter((m) => m.eventTimeMs < drift.fromMs);
    const after = messages.filter((m) => m.eventTimeMs >= drift.toMs);
    const newsOf = (list: ScenarioMessage[]) =>
      list.filter((m) => m.topic === 'news').map((m) => m.record as NewsArticleRecord);
    const meanWords = (list: ScenarioMessage[]) => {
      const news = newsOf(list);
      return news.reduce((s, r) => s + r.body.split(/\s+/).length, 0) / news.length;
    };
    expect(meanWords(after)).toBeGreaterThan(2.5 * meanWords(before));
    expect(newsOf(before).filter((r) => r.source === DRIFT_SOURCE)).toHaveLength(0);
    const aggregatorShare =
      newsOf(after).filter((r) => r.source === DRIFT_SOURCE).length / newsOf(after).length;
    expect(aggregatorShare).toBeGreaterThan(0.4);
    const jargon = (list: ScenarioMessage[]) =>
      list.filter((m) => /tokeniz|stablecoin|#fintwit|wagmi|hyperscaler/.test(text(m))).length / list.length;
    expect(jargon(before)).toBe(0);
    expect(jargon(after)).toBeGreaterThan(0.15);
    expect(Math.abs(negativeShare(after) - negativeShare(before))).toBeLessThan(0.04);
    // The default rules watch token length (TokenLengthDrift), a shifted feature: that alert is
    // expected; the p_neg drift rule is not (intended sentiment does not move).
    expect(truth.expectedAlerts.map((a) => [a.rule, a.feature])).toEqual([['TokenLengthDrift', 'tokens']]);
    // What the drift may do through the model (less confident reading of long articles) is tolerated.
    expect(truth.toleratedAlerts!.map((a) => [a.rule, a.feature ?? a.dimension])).toEqual([
      ['NegativeScoreDrift', 'p_neg'],
      ['ConfidenceCollapse', 'kind'],
    ]);
    expect(truth.toleratedAlerts!.every((a) => a.fromMs === drift.fromMs)).toBe(true);
    // Without a rule on a shifted feature nothing is expected of the drift.
    const withoutTokenRule = generateScenario({
      name: 'drift',
      seed: 42,
      startMs: START,
      durationMs: 2 * HOUR,
      ratePerSecond: 1,
      rules: defaultAlertRules().filter((r) => r.name !== 'TokenLengthDrift'),
    });
    expect(withoutTokenRule.truth.expectedAlerts).toEqual([]);
  });

  it('news bodies run from 3 to 30 sentences, the longest ones around 1,500 tokens; chat carries cashtags and URLs', () => {
    const { messages } = run({ name: 'drift', ratePerSecond: 2 });
    const bodies = messages
      .filter((m) => m.topic === 'news')
      .map((m) => (m.record as NewsArticleRecord).body);
    const sentenceCounts = bodies.map((b) => b.split(/(?<=\.)\s+/).length);
    expect(Math.min(...sentenceCounts)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...sentenceCounts)).toBeLessThanOrEqual(30);
    const maxWords = Math.max(...bodies.map((b) => b.split(/\s+/).length));
    expect(maxWords).toBeGreaterThan(800); // ≈1.3–1.8 WordPiece tokens per word
    const chats = messages.filter((m) => m.topic === 'chat').map((m) => m.record as ChatMessageRecord);
    for (const c of chats) for (const t of c.tickers) expect(c.text).toContain(`$${t}`);
    expect(chats.filter((c) => c.text.includes('https://')).length).toBeGreaterThan(0);
  });

  it('optionally publishes delayed human labels carrying the intended sentiment, in event-time order', () => {
    const r = generateScenario({
      name: 'region-bias',
      seed: 4,
      startMs: START,
      durationMs: HOUR,
      ratePerSecond: 2,
      labels: { share: 0.2, delayMs: 600_000 },
    });
    const messages = [...r.messages];
    for (let i = 1; i < messages.length; i++)
      expect(messages[i]!.eventTimeMs).toBeGreaterThanOrEqual(messages[i - 1]!.eventTimeMs);
    const docs = new Map(messages.filter((m) => m.topic !== 'labels').map((m) => [m.id, m]));
    const labels = messages.filter((m) => m.topic === 'labels');
    expect(labels.length / docs.size).toBeGreaterThan(0.15);
    expect(labels.length / docs.size).toBeLessThan(0.25);
    expect(r.truth.counts.labels).toBe(labels.length);
    expect(r.truth.counts.total).toBe(docs.size); // labels are not documents
    for (const l of labels) {
      const record = schemaType('Label').fromBuffer(l.value) as LabelRecord;
      const doc = docs.get(record.document_id)!;
      expect(record.label).toBe(doc.truth);
      expect(record.document_event_time).toBe(doc.eventTimeMs);
      expect(record.document_kind).toBe(doc.topic);
      expect(record.labelled_at - doc.eventTimeMs).toBeGreaterThanOrEqual(300_000);
      expect(record.labelled_at - doc.eventTimeMs).toBeLessThanOrEqual(900_000);
      expect(l.key).toBe(doc.key);
    }
    // Labels do not disturb the documents: same traffic as without them.
    const plain = [
      ...generateScenario({
        name: 'region-bias',
        seed: 4,
        startMs: START,
        durationMs: HOUR,
        ratePerSecond: 2,
      }).messages,
    ];
    expect(plain.map((m) => m.id)).toEqual([...docs.keys()]);
  });

  it('selects a universe interleaved by region and rejects a surge issuer outside it', () => {
    const u = selectUniverse(8);
    expect(new Set(u.map((i) => i.region))).toEqual(new Set(['amer', 'emea', 'apac', 'latam']));
    expect(selectUniverse(undefined)).toHaveLength(60);
    expect(() => run({ name: 'issuer-surge', universeSize: 8, surge: { ticker: 'SMPH' } })).toThrow(
      /not in the universe/,
    );
  });
});

describe('poison scenario', () => {
  const limits = { maxMessageBytes: 300_000, maxTextChars: 50_000, maxFutureSkewMs: 3_600_000 };
  const registry = new SchemaRegistry({
    schemaIds: { [IDS.news]: 'io.finsentry.NewsArticle', [IDS.chat]: 'io.finsentry.ChatMessage' },
  });
  const decoder = new AvroDecoder({ registry, wireFormat: 'auto', maxMessageBytes: limits.maxMessageBytes });
  const pseudonymiser = new AuthorPseudonymiser('scenario-test-key-0123456789');

  function verdict(m: ScenarioMessage): string {
    const decoded = decoder.decode(m.value, m.topic === 'news' ? 'NewsArticle' : 'ChatMessage');
    if (!decoded.ok) return decoded.rejection.reason;
    const ctx = {
      limits,
      pseudonymiser,
      nowMs: START + 2 * HOUR,
      position: { topic: m.topic, partition: 0, offset: '0' },
      key: Buffer.from(m.key),
      headers: {},
    };
    const result =
      m.topic === 'news'
        ? validateNews(decoded.record as NewsArticleRecord, ctx)
        : validateChat(decoded.record as ChatMessageRecord, ctx);
    return result.ok ? 'ok' : result.rejection.reason;
  }

  it('every poison message is rejected by the codec with its recorded reason, every other message passes', () => {
    const { truth, messages } = run({
      name: 'poison',
      durationMs: HOUR,
      ratePerSecond: 2,
      limits: { maxMessageBytes: limits.maxMessageBytes, maxTextChars: limits.maxTextChars },
    });
    const poison = messages.filter((m) => m.poison !== null);
    expect(poison.length).toBeGreaterThan(0.06 * messages.length);
    expect(poison.length).toBeLessThan(0.1 * messages.length);
    expect(truth.skippedPoisonKinds).toEqual([]);
    // All nine kinds occur with these limits (oversize kinds fit under the broker limit).
    expect(new Set(poison.map((m) => m.poison))).toEqual(
      new Set([
        'empty-message',
        'message-too-large',
        'corrupt-avro',
        'unknown-schema-id',
        'wrong-schema',
        'invalid-field',
        'invalid-timestamp',
        'empty-text',
        'text-too-large',
      ]),
    );
    for (const m of messages) expect([m.id, verdict(m)]).toEqual([m.id, m.poison ?? 'ok']);
    expect(truth.expectedDeadLetters.map((d) => [d.key, d.reason])).toEqual(
      poison.map((m) => [m.key, m.poison]),
    );
    expect(truth.counts.poison).toBe(poison.length);
    expect(truth.expectedAlerts.map((a) => a.rule)).toEqual(['DeadLetterRateHigh']);
  });

  it('skips, and says why, the poison kinds the limits make impossible', () => {
    const r = generateScenario({
      name: 'poison',
      seed: 3,
      startMs: START,
      durationMs: 600_000,
      ratePerSecond: 2,
    });
    expect(r.truth.skippedPoisonKinds.map((s) => s.kind).sort()).toEqual([
      'message-too-large',
      'wrong-schema',
    ]);
    const kinds = new Set([...r.messages].filter((m) => m.poison).map((m) => m.poison));
    expect(kinds.has('message-too-large')).toBe(false);
    expect(kinds.has('wrong-schema')).toBe(false);
  });

  it('adding poison does not change the text of the other documents (independent random streams)', () => {
    const clean = run({ name: 'clean', durationMs: HOUR / 2 }).messages;
    const poisoned = run({ name: 'poison', durationMs: HOUR / 2 }).messages;
    expect(poisoned).toHaveLength(clean.length);
    for (let i = 0; i < clean.length; i++) {
      expect(poisoned[i]!.eventTimeMs).toBe(clean[i]!.eventTimeMs);
      if (poisoned[i]!.poison === null) expect(text(poisoned[i]!)).toBe(text(clean[i]!));
    }
  });
});
