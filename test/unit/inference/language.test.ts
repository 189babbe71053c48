// Language routing (design §3): which language a document is in, and that a document in a language
// no configured model reads is never given a sentiment. Detection runs the real ELD database.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Enricher, EnrichRequest, ScoredEnrichment } from '../../../src/domain/enrichment.js';
import {
  cjkLetterShare,
  languageEvidence,
  LanguageResolver,
  loadEldDetector,
  primaryLanguage,
  type LanguageDetector,
} from '../../../src/inference/language.js';
import { LanguageRoutingEnricher } from '../../../src/inference/language-router.js';
import { synthesizeModel } from '../../../src/tools/models/synth/index.js';
import { generateScenario } from '../../../src/tools/scenarios/generate.js';
import { defaultAlertRules } from '../../../src/alerts/default-rules.js';

/** Ten Chinese financial headlines of clear polarity (5 negative, 5 positive). */
const CHINESE_HEADLINES = [
  '某科技公司股价暴跌80%，市值蒸发千亿',
  '银行不良贷款率大幅上升，监管约谈高管',
  '房企债务违约，评级遭下调至垃圾级',
  '公司预告亏损扩大，股价跌停',
  '券商因违规被罚没2亿元，业务暂停',
  '净利润同比大增80%，超市场预期',
  '贵州茅台营收创历史新高，分红提升',
  '央行宣布降准0.5个百分点，市场大涨',
  '新能源车企销量翻倍，股价创新高',
  '公司获得百亿订单，业绩前景向好',
];

/** Chat- and news-like lines with cashtags, tickers, numbers and mixed scripts, by true language. */
const LABELLED_LINES: Array<[string, string]> = [
  ['en', '$AAPL to the moon 🚀🚀 buying more calls tmrw'],
  ['en', 'NWEC guidance cut, shares -12% premarket'],
  ['en', 'Fed holds rates; yields slip as traders price in cuts'],
  ['en', 'lol $TSLA dumping again, who is still holding??'],
  ['en', 'Q3 EPS beat, rev miss. $MSFT'],
  ['en', 'Northwind Energy Corp shares fell after the regulator opened a probe'],
  ['en', 'Bank of Japan keeps policy unchanged, yen weakens past 150'],
  ['zh', '贵州茅台600519 股价暴跌80%'],
  ['zh', '$600519 今天又跌了，割肉了'],
  ['zh', '茅台 yyds，明天继续加仓 $600519'],
  ['zh', '央行宣布降准0.5个百分点'],
  ['zh', '美联储维持利率不变，美元走弱'],
  ['de', 'Die Aktie von Siemens fiel um 5 Prozent nach der Gewinnwarnung'],
  ['fr', 'La BCE maintient ses taux directeurs inchangés'],
  ['es', 'Las acciones de Santander suben un 3% tras los resultados'],
  ['ja', 'トヨタの株価が急落した'],
];

let detector: LanguageDetector;
beforeAll(async () => {
  detector = await loadEldDetector();
});

describe('primaryLanguage', () => {
  it('takes the primary subtag of a well-formed tag and refuses the rest', () => {
    expect(primaryLanguage('en')).toBe('en');
    expect(primaryLanguage('EN-us')).toBe('en');
    expect(primaryLanguage('zh_Hans_CN')).toBe('zh');
    expect(primaryLanguage(' yue ')).toBe('yue');
    for (const bad of ['', 'english', 'e', 'und', 'mul', 'zxx', '12', 'en--US', 'zh-']) {
      expect(primaryLanguage(bad), bad).toBeUndefined();
    }
  });

  it('measures the share of Han/Kana/Hangul letters', () => {
    expect(cjkLetterShare('NWEC 600519')).toBe(0);
    expect(cjkLetterShare('股价暴跌')).toBe(1);
    expect(cjkLetterShare('ab股价')).toBe(0.5);
    expect(cjkLetterShare('12345 !!')).toBe(0);
  });
});

describe('LanguageResolver with ELD', () => {
  it('identifies short chat and news lines with cashtags and mixed scripts from no tag', () => {
    const resolver = new LanguageResolver(detector, 'verify');
    const wrong = LABELLED_LINES.filter(([lang, text]) => resolver.resolve('und', text).language !== lang);
    expect(wrong).toEqual([]);
  });

  it('overrides a producer tag the text contradicts: Chinese headlines tagged "en" are Chinese', () => {
    for (const policy of ['verify', 'producer'] as const) {
      const resolver = new LanguageResolver(detector, policy);
      for (const text of CHINESE_HEADLINES) {
        expect(resolver.resolve('en', text), `${policy}: ${text}`).toEqual({
          language: 'zh',
          source: 'detected',
        });
      }
    }
  });

  it('keeps the producer tag when the text agrees or detection is not reliable', () => {
    const resolver = new LanguageResolver(detector, 'verify');
    expect(resolver.resolve('en-GB', 'Fed holds rates; yields slip')).toEqual({
      language: 'en',
      source: 'producer',
    });
    expect(resolver.resolve('zh-CN', '茅台 yyds $600519')).toEqual({ language: 'zh', source: 'producer' });
    // "buy the dip" is too short for a reliable verdict: the tag stands
    expect(resolver.resolve('en', 'buy the dip').source).toBe('producer');
  });

  it('keeps "en" on English lines that name German, Dutch or Spanish companies', () => {
    const resolver = new LanguageResolver(detector, 'verify');
    for (const text of [
      'Feldmark Versicherung AG beat estimates, $FLDV up 18%',
      'Vanderlinde Chemie NV results were awful, $VLCH sinking',
      'Petrolera del Sur SA beat estimates, $PDSR up 23%',
    ]) {
      expect(resolver.resolve('en', text), text).toEqual({ language: 'en', source: 'producer' });
    }
  });

  it("routes none of the mixed scenario's English documents away from the English models", () => {
    const resolver = new LanguageResolver(detector, 'verify');
    const run = generateScenario({
      name: 'mixed',
      seed: 1,
      startMs: Date.UTC(2026, 0, 1),
      durationMs: 40 * 60_000,
      ratePerSecond: 100 / 30,
      rules: defaultAlertRules(),
    });
    let documents = 0;
    const routedAway: string[] = [];
    for (const m of run.messages) {
      if (m.poison !== null || m.topic === 'labels') continue;
      const record = m.record as { headline?: string; body?: string; text?: string; language: string };
      const text = record.text ?? `${record.headline}\n${record.body}`;
      documents++;
      if (resolver.resolve(record.language, text).language !== 'en') routedAway.push(text.slice(0, 80));
    }
    expect(documents).toBeGreaterThan(5000);
    expect(routedAway).toEqual([]);
  });

  it('reads Chinese lines as Chinese whatever URL, cashtag or code they carry, under any tag', () => {
    const resolver = new LanguageResolver(detector, 'verify');
    for (const text of [
      '$000858 净利润大增10.7%，太强了 https://finsentry.example/z/b1fd9908',
      'SH600900 净利润大增24.7%，太强了 https://finsentry.example/z/1a2163ad',
      '01299.HK 净利润大增3.5%，太强了 www.example.test/a/b/c/d/e/f',
      '$友邦保险(01299)$ 跌停了 https://finsentry.example/z/599d04e4',
    ])
      for (const tag of ['zh', 'en', 'und'])
        expect(resolver.resolve(tag, text).language, `${tag}: ${text}`).toBe('zh');
    expect(languageEvidence('$NWEC https://x.test/a')).toBe('$NWEC https://x.test/a');
  });

  it("routes every Chinese document of the zh-surge scenario to zh, whatever its producer's tag", () => {
    const resolver = new LanguageResolver(detector, 'verify');
    const run = generateScenario({
      name: 'zh-surge',
      seed: 16,
      startMs: Date.UTC(2026, 0, 5, 8),
      durationMs: 40 * 60_000,
      ratePerSecond: 110 / 60,
      universeSize: 16,
    });
    const misrouted: string[] = [];
    let chinese = 0;
    for (const m of run.messages) {
      if (m.issuer.language !== 'zh' || m.topic === 'labels') continue;
      const record = m.record as { headline?: string; body?: string; text?: string; language: string };
      chinese++;
      const text = record.text ?? `${record.headline}\n\n${record.body}`;
      const resolved = resolver.resolve(record.language, text).language;
      if (resolved !== 'zh') misrouted.push(`${record.language} → ${resolved}: ${text.slice(0, 60)}`);
    }
    expect(chinese).toBeGreaterThan(2000);
    expect(misrouted).toEqual([]);
  });

  it('lets a reliable detection override a mislabelled Latin-script tag under verify only', () => {
    const text = 'Die Aktie von Siemens fiel um 5 Prozent nach der Gewinnwarnung des Vorstands';
    expect(new LanguageResolver(detector, 'verify').resolve('en', text)).toEqual({
      language: 'de',
      source: 'detected',
    });
    expect(new LanguageResolver(detector, 'producer').resolve('en', text)).toEqual({
      language: 'en',
      source: 'producer',
    });
  });

  it('says undetermined when there is nothing to detect', () => {
    expect(new LanguageResolver(detector).resolve('', '12345 $$$ 999')).toEqual({
      language: 'und',
      source: 'undetermined',
    });
  });
});

/** An in-memory stand-in for the models: records what it was asked to score. */
class RecordingEnricher implements Enricher {
  readonly models;
  readonly seen: string[] = [];
  constructor(
    name = 'recording',
    private readonly label: 'neutral' | 'positive' = 'neutral',
  ) {
    this.models = [{ task: 'sentiment' as const, name, version: '1', sha256: 'x' }];
  }
  async enrich(requests: EnrichRequest[]): Promise<ScoredEnrichment[]> {
    this.seen.push(...requests.map((r) => r.id));
    return requests.map((r) => ({
      sentiment: {
        label: this.label,
        probabilities: { negative: 0.1, neutral: 0.8, positive: 0.1 },
        polarity: 0,
        confidence: 0.8,
        windows: 1,
        truncated: false,
        tokens: r.text.length,
        unknownTokens: 0,
      },
      entities: [],
      models: this.models,
    }));
  }
  async close(): Promise<void> {}
}

describe('LanguageRoutingEnricher', () => {
  it('never hands the models a language they cannot read, keeps request order and counts the rest', async () => {
    const inner = new RecordingEnricher();
    const unscored: string[] = [];
    const router = new LanguageRoutingEnricher([{ name: 'default', languages: ['en'], enricher: inner }], {
      policy: 'verify',
      detector,
      onUnscored: (language) => unscored.push(language),
    });
    const requests: EnrichRequest[] = [
      { id: 'a', text: 'Fed holds rates; yields slip as traders price in cuts', language: 'en' },
      { id: 'b', text: CHINESE_HEADLINES[0]!, language: 'en' },
      { id: 'c', text: 'NWEC guidance cut, shares -12% premarket', language: 'en' },
      { id: 'd', text: CHINESE_HEADLINES[5]!, language: 'zh' },
      { id: 'e', text: 'La BCE maintient ses taux directeurs inchangés', language: 'fr' },
    ];
    const results = await router.enrich(requests);
    expect(inner.seen).toEqual(['a', 'c']);
    expect(
      results.map((r) => [r.sentiment?.label ?? null, r.unscored ?? null, r.language?.language]),
    ).toEqual([
      ['neutral', null, 'en'],
      [null, 'unsupported-language', 'zh'],
      ['neutral', null, 'en'],
      [null, 'unsupported-language', 'zh'],
      [null, 'unsupported-language', 'fr'],
    ]);
    expect(unscored).toEqual(['zh', 'zh', 'fr']);
  });

  it('hands each language to the model set that reads it and names that set in `models`', async () => {
    const english = new RecordingEnricher('english');
    const chinese = new RecordingEnricher('multilingual', 'positive');
    const unscored: string[] = [];
    const router = new LanguageRoutingEnricher(
      [
        { name: 'default', languages: ['en'], enricher: english },
        { name: 'multilingual', languages: ['zh'], enricher: chinese },
      ],
      { policy: 'verify', detector, onUnscored: (language) => unscored.push(language) },
    );
    const requests: EnrichRequest[] = [
      { id: 'a', text: CHINESE_HEADLINES[5]!, language: 'zh-CN' },
      { id: 'b', text: 'Fed holds rates; yields slip as traders price in cuts', language: 'en' },
      // mislabelled by the producer: the script says Chinese, so the Chinese set scores it
      { id: 'c', text: CHINESE_HEADLINES[0]!, language: 'en' },
      { id: 'd', text: 'La BCE maintient ses taux directeurs inchangés', language: 'fr' },
      { id: 'e', text: CHINESE_HEADLINES[6]! },
    ];
    const results = await router.enrich(requests);
    expect(english.seen).toEqual(['b']);
    expect(chinese.seen).toEqual(['a', 'c', 'e']);
    expect(results.map((r) => [r.sentiment?.label ?? null, r.models[0]?.name, r.language?.language])).toEqual(
      [
        ['positive', 'multilingual', 'zh'],
        ['neutral', 'english', 'en'],
        ['positive', 'multilingual', 'zh'],
        [null, 'english', 'fr'],
        ['positive', 'multilingual', 'zh'],
      ],
    );
    expect(results[3]!.unscored).toBe('unsupported-language');
    expect(unscored).toEqual(['fr']);
  });

  it('refuses a language routed to two sets', () => {
    const sets = ['a', 'b'].map((name) => ({
      name,
      languages: ['zh'],
      enricher: new RecordingEnricher(name),
    }));
    expect(() => new LanguageRoutingEnricher(sets, { policy: 'verify', detector })).toThrow(
      /zh is routed to both a and b/,
    );
  });
});

describe('finsentry infer on Chinese headlines with the English default language set', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'finsentry-lang-'));
    synthesizeModel({
      task: 'sentiment',
      layers: 1,
      hidden: 32,
      heads: 2,
      vocabSize: 800,
      seed: 1,
      out: join(root, 'sent'),
    });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('gives none of them a sentiment, names their language and the reason; English lines are scored', () => {
    const input = join(root, 'in.jsonl');
    const lines = [
      ...CHINESE_HEADLINES.map((text, i) => ({ id: `zh${i}`, text, language: 'en' })),
      { id: 'en0', text: 'Fed holds rates; yields slip as traders price in cuts', language: 'en' },
    ];
    writeFileSync(input, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    // English models only: no further model set (the default would route zh to the multilingual model).
    const config = join(root, 'english-only.yaml');
    writeFileSync(config, 'models:\n  sets: []\n');
    const stdout = execFileSync(
      'node_modules/.bin/tsx',
      [
        'src/cli/main.ts',
        'infer',
        '--task',
        'sentiment',
        '--model',
        join(root, 'sent'),
        '--input',
        input,
        '--config',
        config,
      ],
      { encoding: 'utf8' },
    );
    const out = stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            id: string;
            sentiment?: unknown;
            unscored?: string;
            language?: { language: string };
          },
      );
    expect(out).toHaveLength(11);
    for (const r of out.slice(0, 10)) {
      expect(r.sentiment, r.id).toBeUndefined();
      expect(r.unscored).toBe('unsupported-language');
      expect(r.language?.language).toBe('zh');
    }
    expect(out[10]!.sentiment).toBeDefined();
    expect(out[10]!.language?.language).toBe('en');
  });
});
