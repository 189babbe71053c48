// Issue #15 "Done when": ten Chinese financial headlines of clear polarity are scored correctly by
// `finsentry infer`, and Chinese entities come back with UTF-16 offsets. Runs the built CLI
// (dist/, as installed: the compiled inference worker included) with the default configuration,
// which routes zh to the joint model in models/finsentry-multilingual (docs/inference.md "Model sets").
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EntitySpan, SentimentResult } from '../../../../src/domain/enrichment.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

/** Five negative, five positive: realistic headlines naming their issuer. */
const HEADLINES: Array<[string, 'negative' | 'positive']> = [
  ['中国恒大债务违约风险加剧，股价暴跌80%创上市以来新低', 'negative'],
  ['康美药业财务造假坐实，被证监会罚款并强制退市', 'negative'],
  ['獐子岛三季度巨亏，扇贝存货大幅减值，股价连续跌停', 'negative'],
  ['瑞幸咖啡承认虚增销售额22亿元，盘前股价暴跌75%', 'negative'],
  ['万科A年度净利润同比大降46%，销售额持续下滑', 'negative'],
  ['贵州茅台2023年净利润同比大增19%，营收创历史新高', 'positive'],
  ['宁德时代一季度净利润同比大增80%，远超市场预期', 'positive'],
  ['比亚迪新能源汽车销量同比翻倍，股价创历史新高', 'positive'],
  ['招商银行年度净利润同比大增15%，分红比例提升至35%', 'positive'],
  ['腾讯控股季度盈利大幅超预期，宣布千亿港元回购计划', 'positive'],
];

/** An organisation after an astral character: a code-point offset would be one off in JavaScript. */
const NER_TEXT = '【快讯】📈贵州茅台发布年报，净利润同比增长15%。';

interface Output {
  id: string;
  sentiment?: SentimentResult;
  entities?: EntitySpan[];
  models: Array<{ task: string; name: string }>;
  language?: { language: string };
  unscored?: string;
}

/** The newest modification time of the TypeScript sources (dist/ must not be older). */
function newestSource(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((newest, e) => {
    const path = join(dir, e.name);
    const time = e.isDirectory() ? newestSource(path) : e.name.endsWith('.ts') ? statSync(path).mtimeMs : 0;
    return Math.max(newest, time);
  }, 0);
}

let root: string;
let out: Output[];

beforeAll(() => {
  if (!existsSync(CLI) || statSync(CLI).mtimeMs < newestSource(join(ROOT, 'src')))
    throw new Error(`${CLI} is missing or older than src/: run npm run build first (npm test does)`);
  root = mkdtempSync(join(tmpdir(), 'finsentry-zh-'));
  const input = join(root, 'in.jsonl');
  const lines = [
    ...HEADLINES.map(([text], i) => ({ id: `h${i}`, text, language: 'zh' })),
    // no language tag: ELD detects it
    { id: 'ner', text: NER_TEXT },
  ];
  writeFileSync(input, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const stdout = execFileSync(process.execPath, [CLI, 'infer', '--task', 'both', '--input', input], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, FINSENTRY_LOG_LEVEL: 'warn' },
  });
  out = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Output);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('finsentry infer (dist) on Chinese financial text', () => {
  it('scores ten Chinese headlines of clear polarity correctly, with the multilingual model', () => {
    expect(out).toHaveLength(HEADLINES.length + 1);
    const got = out.slice(0, HEADLINES.length).map((r) => [r.id, r.sentiment?.label]);
    expect(got).toEqual(HEADLINES.map(([, label], i) => [`h${i}`, label]));
    for (const r of out.slice(0, HEADLINES.length)) {
      expect(r.language?.language).toBe('zh');
      expect(r.models.map((m) => `${m.task}:${m.name}`)).toEqual([
        'sentiment:finsentry-multilingual',
        'ner:finsentry-multilingual',
      ]);
      // the 250k SentencePiece vocabulary reads Chinese, but has no byte fallback: a rare character
      // (獐 of 獐子岛) is one <unk>, where the English WordPiece models lost 50–86% of the tokens
      expect(r.sentiment!.unknownTokens).toBeLessThanOrEqual(1);
    }
  });

  it('finds the organisation in a Chinese sentence at its UTF-16 offsets', () => {
    const r = out[HEADLINES.length]!;
    expect(r.language?.language).toBe('zh');
    const org = r.entities!.find((e) => e.type === 'ORG' && e.text.includes('茅台'));
    expect(org, JSON.stringify(r.entities)).toBeDefined();
    // 【快讯】 is 4 code units and 📈 2, so 贵州茅台 starts at 6 (a code-point offset would say 5)
    expect(org!.start).toBe(NER_TEXT.indexOf(org!.text));
    expect(org!.start).toBeGreaterThanOrEqual(6);
    expect(NER_TEXT.slice(org!.start, org!.end)).toBe(org!.text);
    // no entity is the whole sentence (CJK tokens are units of their own)
    for (const e of r.entities!) expect(e.end - e.start).toBeLessThan(12);
  });
});
