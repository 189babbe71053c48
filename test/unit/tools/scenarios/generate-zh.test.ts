import { describe, expect, it } from 'vitest';
import { InputCodec } from '../../../../src/codec/input.js';
import { AvroDecoder } from '../../../../src/codec/decode.js';
import { SchemaRegistry } from '../../../../src/codec/registry.js';
import type { ChatMessageRecord, NewsArticleRecord } from '../../../../src/codec/records.js';
import type { InputDocument } from '../../../../src/domain/documents.js';
import { AuthorPseudonymiser } from '../../../../src/privacy/pseudonymise.js';
import {
  BASELINE_MIX,
  type ScenarioMessage,
  type ScenarioOptions,
} from '../../../../src/tools/scenarios/generate.js';
import { REALISTIC_TRAFFIC } from '../../../../src/tools/scenarios/realism.js';
import { CHINESE_ISSUERS, ZH_BROKERS } from '../../../../src/tools/scenarios/universe-zh.js';
import { issuerAliases, issuerGroup } from '../../../../src/tools/scenarios/universe.js';
import { generateAll, HOUR, IDS, START } from '../../../helpers/generated-scenario.js';

const HAN = /\p{Script=Han}/u;
const run = (options: Partial<ScenarioOptions> & Pick<ScenarioOptions, 'name'>) =>
  generateAll({ seed: 7, ratePerSecond: 3, ...options });

const chinese = (list: ScenarioMessage[]) => list.filter((m) => m.issuer.language === 'zh');
const negativeShare = (list: ScenarioMessage[]) =>
  list.filter((m) => m.truth === 'negative').length / Math.max(1, list.length);
const textOf = (m: ScenarioMessage) =>
  m.topic === 'news'
    ? `${(m.record as NewsArticleRecord).headline}\n\n${(m.record as NewsArticleRecord).body}`
    : (m.record as ChatMessageRecord).text;
const languageOf = (m: ScenarioMessage) => (m.record as NewsArticleRecord | ChatMessageRecord).language;

/** The codec as the service runs it: what a Chinese document becomes in the pipeline. */
function decodeDocument(m: ScenarioMessage): InputDocument {
  const registry = new SchemaRegistry({
    schemaIds: { [IDS.news]: 'io.finsentry.NewsArticle', [IDS.chat]: 'io.finsentry.ChatMessage' },
  });
  const decoder = new AvroDecoder({ registry, wireFormat: 'auto', maxMessageBytes: 1_000_000 });
  const codec = new InputCodec(
    decoder,
    new AuthorPseudonymiser('scenario-test-key-0123456789'),
    { maxTextChars: 50_000, maxFutureSkewMs: 3_600_000 },
    () => START + 3 * HOUR,
  );
  const raw = {
    topic: m.topic,
    partition: 0,
    offset: '0',
    key: Buffer.from(m.key),
    value: m.value,
    headers: {},
    timestamp: '0',
  };
  const result = codec.document(raw, m.topic === 'news' ? 'news' : 'chat');
  if (!result.ok) throw new Error(`${m.id}: ${result.rejection.reason} ${result.rejection.message}`);
  return result.value;
}

describe('Chinese-language traffic', () => {
  it('is off in the existing scenarios and half of zh-surge, with the tags real producers send', () => {
    for (const name of ['clean', 'issuer-surge', 'mixed'] as const)
      expect(chinese(run({ name, durationMs: HOUR }).messages), name).toEqual([]);
    const { messages } = run({ name: 'zh-surge' });
    const zh = chinese(messages);
    expect(zh.length / messages.length).toBeGreaterThan(0.45);
    expect(zh.length / messages.length).toBeLessThan(0.55);
    for (const m of zh) expect(textOf(m), m.id).toMatch(HAN);
    for (const m of messages.filter((x) => x.issuer.language === undefined))
      expect(textOf(m), m.id).not.toMatch(HAN);
    // Mostly zh, but some producers tag everything `en` and some do not know (`und`).
    const tags = new Map<string, number>();
    for (const m of zh) tags.set(languageOf(m), (tags.get(languageOf(m)) ?? 0) + 1);
    expect((tags.get('zh') ?? 0) / zh.length).toBeGreaterThan(0.6);
    for (const tag of ['zh-CN', 'en', 'und']) expect(tags.get(tag) ?? 0, tag).toBeGreaterThan(0);
    // Both kinds and both platforms of Chinese chat.
    expect(new Set(zh.map((m) => m.topic))).toEqual(new Set(['news', 'chat']));
    const platforms = zh
      .filter((m) => m.topic === 'chat')
      .map((m) => (m.record as ChatMessageRecord).platform);
    expect(new Set(platforms)).toEqual(new Set(['guba', 'xueqiu']));
  });

  it('comes on top of the English traffic without changing any of it (random streams of its own)', () => {
    const english = run({
      name: 'mixed',
      durationMs: HOUR,
      ratePerSecond: 2,
      poison: { share: 0.02 },
    }).messages;
    const both = run({
      name: 'mixed',
      durationMs: HOUR,
      ratePerSecond: 2 / (1 - 0.25),
      poison: { share: 0.02 },
      zh: { share: 0.25, surge: {} },
    }).messages;
    const same = (m: ScenarioMessage) => `${m.id} ${m.eventTimeMs} ${m.value.toString('base64')}`;
    expect(both.filter((m) => m.issuer.language === undefined).map(same)).toEqual(english.map(same));
    expect(chinese(both).length).toBeGreaterThan(both.length * 0.2);
  });

  it('gets its issuer codes through the codec canonically, from the text where the producer sent none', () => {
    const { messages } = run({ name: 'zh-surge', durationMs: HOUR });
    const zh = chinese(messages);
    let fromText = 0;
    for (const m of zh) {
      const supplied = (m.record as NewsArticleRecord).tickers;
      const doc = decodeDocument(m);
      // Every code the pipeline sees is a canonical code of the universe (chat may name a second issuer).
      for (const t of doc.attributes.tickers)
        expect(
          CHINESE_ISSUERS.map((i) => i.ticker),
          m.id,
        ).toContain(t);
      if (supplied.length === 0 && doc.attributes.tickers.length > 0) fromText++;
      if (m.topic === 'news' && supplied.length > 0)
        expect(doc.attributes.tickers).toEqual([m.issuer.ticker]);
    }
    // Codes are read from the text of a good part of the documents that came without them.
    expect(fromText).toBeGreaterThan(zh.length * 0.2);
  });

  it('plants a negative surge on 贵州茅台 that expects NegativeSentimentSurge there, the region held at its base', () => {
    const { truth, messages } = run({ name: 'zh-surge', universeSize: 4 });
    const surge = truth.injected.find((e) => e.kind === 'surge')!;
    const issuer = CHINESE_ISSUERS.find((i) => i.ticker === '600519.SH')!;
    expect(surge.groups).toEqual([
      { dimension: 'issuer', group: '贵州茅台', aliases: issuerAliases(issuer) },
      { dimension: 'ticker', group: '600519.SH' },
    ]);
    expect(surge.params.language).toBe('zh');
    expect(truth.expectedAlerts.map((a) => [a.rule, a.dimension, a.group])).toEqual([
      ['NegativeSentimentSurge', 'issuer', issuerGroup(issuer)],
    ]);
    const ramp = Number(surge.params.rampMs);
    const plateau = messages.filter(
      (m) => m.eventTimeMs >= surge.fromMs + ramp && m.eventTimeMs < surge.toMs - ramp,
    );
    const outside = messages.filter((m) => m.eventTimeMs < surge.fromMs || m.eventTimeMs >= surge.toMs);
    const about = (list: ScenarioMessage[]) => list.filter((m) => m.issuer === issuer);
    expect(negativeShare(about(plateau))).toBeGreaterThan(0.65);
    expect(negativeShare(about(outside))).toBeLessThan(0.3);
    expect(
      Math.abs(negativeShare(plateau.filter((m) => m.issuer.region === 'cn')) - BASELINE_MIX.negative),
    ).toBeLessThan(0.04);
    // English traffic is untouched by the Chinese surge.
    const english = plateau.filter((m) => m.issuer.language === undefined);
    expect(Math.abs(negativeShare(english) - BASELINE_MIX.negative)).toBeLessThan(0.04);
    for (const m of about(messages)) for (const broker of ZH_BROKERS) expect(textOf(m)).not.toContain(broker);
  });

  it('expects no alert on the Chinese surge when the models do not read Chinese (its documents are unscored)', () => {
    const unread = run({ name: 'zh-surge', durationMs: HOUR, scoredLanguages: ['en'] }).truth;
    expect(unread.expectedAlerts).toEqual([]);
    const surge = unread.injected.find((e) => e.kind === 'surge')!;
    expect(surge.params.scored).toBe(false);
    expect(surge.description).toContain('unscored');
    const read = run({ name: 'zh-surge', durationMs: HOUR, scoredLanguages: ['en', 'zh'] }).truth;
    expect(read.expectedAlerts).toHaveLength(1);
    // The mixed scenario's English surge with Chinese traffic beside it: only the Chinese one is gated.
    const mixed = run({
      name: 'mixed',
      durationMs: HOUR,
      zh: { share: 0.2, surge: {} },
      scoredLanguages: ['en'],
    });
    expect(
      mixed.truth.expectedAlerts.filter((a) => a.rule === 'NegativeSentimentSurge').map((a) => a.group),
    ).toEqual(['northwind energy corp']);
  });

  it('keeps the realism of English traffic: Chinese stories syndicated on Chinese outlets, late arrivals', () => {
    const { messages } = run({ name: 'zh-surge', durationMs: HOUR, realism: REALISTIC_TRAFFIC });
    const news = chinese(messages).filter((m) => m.topic === 'news');
    const copies = news.filter((m) => m.storyId !== m.id);
    expect(copies.length).toBeGreaterThan(news.length * 0.3);
    const byId = new Map(news.map((m) => [m.id, m]));
    for (const c of copies) {
      const first = byId.get(c.storyId);
      if (!first) continue; // the original arrived later than the window of this check
      expect(c.truth).toBe(first.truth);
      expect(languageOf(c)).toBe(languageOf(first));
      expect((c.record as NewsArticleRecord).source).not.toBe((first.record as NewsArticleRecord).source);
      expect(textOf(c)).toMatch(HAN);
    }
    expect(chinese(messages).some((m) => m.arrivalMs > m.eventTimeMs)).toBe(true);
  });
});
