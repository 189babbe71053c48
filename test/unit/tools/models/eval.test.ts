import { describe, expect, it } from 'vitest';
import {
  detokenize,
  isHashDev,
  parseConll,
  parseSentimentData,
  parseZhNerDev,
  parseZhSentimentDev,
  stripEntityMarkup,
  tagsFromEntities,
} from '../../../../src/tools/models/eval/datasets.js';
import {
  classificationReport,
  getEntities,
  iob1ToIob2,
  keyedSpanReport,
  spanReport,
} from '../../../../src/tools/models/eval/metrics.js';
import { parseInputLine } from '../../../../src/inference/infer-stream.js';

describe('classification metrics', () => {
  it('computes accuracy, per-class P/R/F1, macro-F1 and the confusion matrix', () => {
    const yTrue = [
      'negative',
      'negative',
      'neutral',
      'neutral',
      'neutral',
      'positive',
      'positive',
      'positive',
    ];
    const yPred = [
      'negative',
      'neutral',
      'neutral',
      'neutral',
      'positive',
      'positive',
      'positive',
      'negative',
    ];
    const r = classificationReport(yTrue, yPred, ['negative', 'neutral', 'positive']);
    expect(r.accuracy).toBe(5 / 8);
    expect(r.confusion).toEqual([
      [1, 1, 0],
      [0, 2, 1],
      [1, 0, 2],
    ]);
    // negative: P 1/2 R 1/2 F1 1/2; neutral: P 2/3 R 2/3; positive: P 2/3 R 2/3
    expect(r.perClass['negative']).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(r.perClass['neutral']?.f1).toBeCloseTo(2 / 3, 15);
    expect(r.macroF1).toBeCloseTo((0.5 + 2 / 3 + 2 / 3) / 3, 15);
  });

  it('scores a never-predicted class with zero precision (zero_division=0)', () => {
    const r = classificationReport(['a', 'b'], ['a', 'a'], ['a', 'b']);
    expect(r.perClass['b']).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(r.perClass['a']?.precision).toBe(0.5);
  });
});

describe('seqeval span metrics', () => {
  it('extracts chunks like seqeval get_entities (default mode)', () => {
    expect(getEntities(['B-PER', 'I-PER', 'O', 'B-LOC'])).toEqual([
      { type: 'PER', start: 0, end: 1 },
      { type: 'LOC', start: 3, end: 3 },
    ]);
    // a stray I- starts an entity; a type change ends one
    expect(getEntities(['O', 'I-ORG', 'I-ORG', 'I-LOC', 'B-LOC', 'I-LOC'])).toEqual([
      { type: 'ORG', start: 1, end: 2 },
      { type: 'LOC', start: 3, end: 3 },
      { type: 'LOC', start: 4, end: 5 },
    ]);
  });

  it('converts IOB1 to IOB2', () => {
    expect(iob1ToIob2(['I-ORG', 'I-ORG', 'O', 'I-PER', 'B-PER', 'I-LOC'])).toEqual([
      'B-ORG',
      'I-ORG',
      'O',
      'B-PER',
      'B-PER',
      'B-LOC',
    ]);
  });

  it('computes per-type and micro P/R/F1', () => {
    const truth = [
      ['B-PER', 'I-PER', 'O', 'B-ORG'],
      ['B-LOC', 'O', 'B-ORG', 'I-ORG'],
    ];
    const pred = [
      ['B-PER', 'I-PER', 'O', 'B-LOC'],
      ['B-LOC', 'O', 'B-ORG', 'O'],
    ];
    const r = spanReport(truth, pred);
    // true: PER(0,0-1) ORG(0,3) LOC(1,0) ORG(1,2-3); pred: PER(0,0-1) LOC(0,3) LOC(1,0) ORG(1,2)
    expect(r.perType['PER']).toEqual({ precision: 1, recall: 1, f1: 1, support: 1 });
    expect(r.perType['ORG']).toEqual({ precision: 0, recall: 0, f1: 0, support: 2 });
    expect(r.perType['LOC']).toEqual({ precision: 0.5, recall: 1, f1: 2 / 3, support: 1 });
    expect(r.micro.precision).toBe(0.5);
    expect(r.micro.recall).toBe(0.5);
    expect(r.micro.f1).toBe(0.5);
  });
});

describe('evaluation data readers', () => {
  it('reads PhraseBank TSV with bare quotes and Twitter CSV with numeric labels', () => {
    const tsv =
      'sentence\tlabel\tagreement\nShares "soared" 5 % .\tpositive\t100\nFlat quarter .\tneutral\t66\n';
    expect(parseSentimentData(tsv, 'dev.tsv')).toEqual([
      { text: 'Shares "soared" 5 % .', label: 'positive', agreement: 100 },
      { text: 'Flat quarter .', label: 'neutral', agreement: 66 },
    ]);
    const csv = 'text,label\n"$AAPL down, badly",0\nbullish on $TSLA,1\nmeh,2\n';
    expect(parseSentimentData(csv, 'train.csv').map((e) => e.label)).toEqual([
      'negative',
      'positive',
      'neutral',
    ]);
    expect(() => parseSentimentData('text,label\nx,7\n', 'a.csv')).toThrow(/unknown label "7"/);
  });

  it('reads CoNLL-2003 and maps predicted character spans back to token tags', () => {
    const conll =
      '-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\n\nPeter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n';
    const sentences = parseConll(conll);
    expect(sentences).toEqual([
      { tokens: ['EU', 'rejects', 'German'], tags: ['B-ORG', 'O', 'B-MISC'] },
      { tokens: ['Peter', 'Blackburn'], tags: ['B-PER', 'I-PER'] },
    ]);
    const { text, spans } = detokenize(['Peter', 'Blackburn', 'said']);
    expect(text).toBe('Peter Blackburn said');
    expect(tagsFromEntities(spans, [{ type: 'PER', start: 0, end: 15 }])).toEqual(['B-PER', 'I-PER', 'O']);
  });

  it('parses infer input lines (JSONL or plain text)', () => {
    expect(parseInputLine('{"id":"a1","text":"hi"}', 1)).toEqual({ id: 'a1', text: 'hi' });
    expect(parseInputLine('{"id":5,"text":"x"}', 2)).toEqual({ id: '5', text: 'x' });
    expect(parseInputLine('plain text', 3)).toEqual({ id: '3', text: 'plain text' });
    expect(parseInputLine('   ', 4)).toBeUndefined();
    expect(() => parseInputLine('{"id":1}', 5)).toThrow(/line 5/);
  });
});

describe('Chinese dev rows (zh_translated)', () => {
  it("keeps the sentiment rows of training/zh_data.py's dev split, with the English set each renders", () => {
    // Dev ids among pb-train-0..59 by Python: stable_hash("zh:" + id) % 100 < 10 (training/zh_data.py).
    const dev = ['pb-train-2', 'pb-train-20', 'pb-train-23', 'pb-train-24', 'pb-train-25', 'pb-train-39', 'pb-train-53', 'pb-train-56'];
    const lines = Array.from({ length: 60 }, (_, i) =>
      JSON.stringify({
        id: `pb-train-${i}`,
        task: i === 24 ? 'ner' : 'sentiment',
        origin: i === 53 ? 'twitter-train' : 'phrasebank-train',
        label: 'negative',
        en: 'Shares fell.',
        zh: `股价下跌 ${i}`,
      }),
    );
    const rows = parseZhSentimentDev(lines.join('\n') + '\n');
    expect(rows.map((r) => r.text)).toEqual(
      dev.filter((id) => id !== 'pb-train-24').map((id) => `股价下跌 ${id.slice('pb-train-'.length)}`),
    );
    expect(rows.filter((r) => r.origin === 'twitter').map((r) => r.text)).toEqual(['股价下跌 53']);
    expect(() => parseZhSentimentDev(lines[2]!.replace('negative', 'bearish'))).toThrow(/unknown label "bearish"/);
  });
});

describe('Chinese NER dev rows (zh_translated markup)', () => {
  it('strips [TYPE entity] markup into the text and UTF-16 spans, and keeps the dev split of the NER rows', () => {
    // 📈 is two UTF-16 code units: 贵州茅台 starts at 6 in JavaScript (5 in code points)
    const row = stripEntityMarkup('【快讯】📈[ORG 贵州茅台]与[LOC 上海]，[PER 张三]说');
    expect(row.text).toBe('【快讯】📈贵州茅台与上海，张三说');
    expect(row.entities.map((e) => [e.type, row.text.slice(e.start, e.end), e.start])).toEqual([
      ['ORG', '贵州茅台', 6],
      ['LOC', '上海', 11],
      ['PER', '张三', 14],
    ]);
    // pb-train-20 is in the dev split, pb-train-21 is not (see the sentiment case above)
    const lines = [20, 21].map((i) =>
      JSON.stringify({ id: `pb-train-${i}`, task: 'ner', en: '[ORG Nokia] fell', zh: `[ORG 诺基亚]下跌${i}` }),
    );
    const sentiment = JSON.stringify({ id: 'pb-train-23', task: 'sentiment', label: 'negative', zh: '下跌' });
    expect(parseZhNerDev([...lines, sentiment].join('\n'))).toEqual([
      { text: '诺基亚下跌20', entities: [{ type: 'ORG', start: 0, end: 3 }] },
    ]);
  });

  it('scores exact character spans: a boundary or a type off counts as a miss', () => {
    // keys as evaluateSpans builds them: sentence, start, end, type
    const gold = new Map([
      ['0:0:3:ORG', 'ORG'],
      ['0:4:6:LOC', 'LOC'],
      ['1:0:2:PER', 'PER'],
    ]);
    const predicted = new Map([
      ['0:0:3:ORG', 'ORG'], // exact
      ['0:4:7:LOC', 'LOC'], // one character too long
      ['1:0:2:ORG', 'ORG'], // the right span, the wrong type
    ]);
    const r = keyedSpanReport(gold, predicted);
    expect(r.micro).toEqual({ precision: 1 / 3, recall: 1 / 3, f1: 1 / 3, support: 3 });
    expect(r.perType['ORG']).toEqual({ precision: 0.5, recall: 1, f1: 2 / 3, support: 1 });
    expect(r.perType['PER']).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
  });
});

describe('hash dev split', () => {
  it('puts the same rows in dev as training/common.py (sha256 of the text, first 8 hex digits, mod 100 < 10)', () => {
    // Values computed with Python: int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) % 100
    expect(['text 0', 'text 13', 'text 21'].map((t) => isHashDev(t))).toEqual([true, true, true]); // 1, 3, 9
    expect(['hello', '$AAPL is going up', 'Ünïcode €', ''].map((t) => isHashDev(t))).toEqual([
      false,
      false,
      false,
      false,
    ]); // 14, 45, 55, 10
    expect(isHashDev('hello', 15)).toBe(true);
  });
});
