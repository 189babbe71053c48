import type { SentimentLabel } from '../../domain/enrichment.js';
import { ZH_BODY_SENTENCES, ZH_CHAT_TEMPLATES, ZH_HEADLINES, ZH_QUARTERS } from './phrases-zh.js';
import type { Random } from './random.js';
import { composeArticle, DEFAULT_TEXT_STYLE, pickTemplate, type NewsText } from './text.js';
import type { Issuer } from './universe.js';
import { CHINESE_ISSUERS, ZH_BROKERS, ZH_CLIENTS, ZH_PEOPLE } from './universe-zh.js';

/**
 * Chinese news and 股吧/雪球 chat about the issuers of universe-zh.ts, and the ways real Chinese traffic
 * writes a security code: `$600519`, 雪球's `$贵州茅台(SH600519)$`, `600519.SH`, `SH600519`, and for
 * Hong Kong `00700.HK` or `$腾讯控股(00700)$`. src/domain/tickers.ts reads every one of them.
 */

const SLOT = /\{([a-z0-9]+)\}/g;

/** Digits and exchange of a canonical ticker ("600519.SH" → ["600519", "SH"]). */
function codeOf(issuer: Issuer): [string, string] {
  const [code, exchange] = issuer.ticker.split('.') as [string, string];
  return [code, exchange];
}

/** The code as a 雪球-style feed sends it in its ticker field: SH600519, 00700.HK. */
export function producerSymbol(issuer: Issuer): string {
  const [code, exchange] = codeOf(issuer);
  return exchange === 'HK' ? `${code.padStart(5, '0')}.HK` : `${exchange}${code}`;
}

/** One of the ways chat writes the issuer's code. */
export function chatCashtag(issuer: Issuer, rng: Random): string {
  const [code, exchange] = codeOf(issuer);
  const x = rng.float();
  if (exchange === 'HK') {
    const five = code.padStart(5, '0');
    if (x < 0.4) return `${five}.HK`;
    if (x < 0.7) return `$${issuer.name}(${five})$`;
    return issuer.ticker;
  }
  if (x < 0.35) return `$${code}`;
  if (x < 0.6) return `$${issuer.name}(${exchange}${code})$`;
  if (x < 0.8) return issuer.ticker;
  return `${exchange}${code}`;
}

function chineseDate(rng: Random, eventTimeMs: number): string {
  const d = new Date(eventTimeMs + rng.int(2, 56) * 86_400_000);
  return `${d.getUTCMonth() + 1}月${d.getUTCDate()}日`;
}

/** Fill a Chinese template's slots for one issuer; every value is drawn from `rng`. */
export function fillChineseTemplate(
  template: string,
  issuer: Issuer,
  rng: Random,
  eventTimeMs: number,
): string {
  return template.replace(SLOT, (_m, slot: string) => {
    switch (slot) {
      case 'name':
      case 'short':
        // The full company name throughout, as in English: one ORG span, one `issuer` group.
        return issuer.name;
      case 'nick':
        return issuer.shortName;
      case 'cashtag':
        return chatCashtag(issuer, rng);
      case 'cashtag2': {
        let other = rng.pick(CHINESE_ISSUERS);
        if (other.ticker === issuer.ticker)
          other = CHINESE_ISSUERS[(CHINESE_ISSUERS.indexOf(other) + 1) % CHINESE_ISSUERS.length]!;
        return chatCashtag(other, rng);
      }
      case 'pct':
        return String(rng.int(3, 24) + (rng.chance(0.5) ? rng.int(1, 9) / 10 : 0));
      case 'amount':
      case 'amount2':
        return (rng.int(5, 2_400) / 10).toFixed(1);
      case 'n':
        return String(rng.int(12, 95));
      case 'date':
        return chineseDate(rng, eventTimeMs);
      case 'quarter':
        return rng.pick(ZH_QUARTERS);
      case 'broker':
        return rng.pick(ZH_BROKERS);
      case 'person':
        return rng.pick(ZH_PEOPLE);
      case 'client':
        return rng.pick(ZH_CLIENTS);
      case 'city':
        return issuer.city;
      case 'exchange':
        return issuer.exchange;
      case 'year':
        return String(new Date(eventTimeMs).getUTCFullYear() - 1);
      case 'price':
        return `${rng.int(8, 420)}`;
      case 'url':
        return `https://finsentry.example/z/${rng.hex(4)}`;
      case 'time':
        return `${rng.int(8, 17)}:${rng.pick(['00', '15', '30', '45'])}`;
      default:
        throw new Error(`unknown template slot {${slot}}`);
    }
  });
}

/** Long neutral background for long Chinese articles (as LONG_BACKGROUND for English). */
const ZH_BACKGROUND: readonly string[] = [
  '{short}总部位于{city}，业务覆盖国内外多个市场，公司股票在{exchange}上市交易，并按照监管要求定期披露经营情况。',
  '根据公司公告，年度股东大会将于{date}在{city}召开，股东可通过现场或网络投票方式参加，具体安排以公司后续公告为准。',
  '本文所列财务数据未经审计，如无特别说明，同比数据均与上年同期相比，与公司以往定期报告的披露口径保持一致。',
  '{person}曾在多家大型企业担任财务和运营管理职务，将直接向公司总经理汇报，常驻{city}总部办公。',
];

/**
 * A Chinese news article with the intended label, composed as English articles are (text.ts
 * composeArticle). Half of the articles open as Chinese wire copy does, with the code after the name
 * ("贵州茅台（600519.SH）3月14日晚间公告称，"), the one place news writes the code.
 */
export function writeChineseNews(
  label: SentimentLabel,
  issuer: Issuer,
  rng: Random,
  eventTimeMs: number,
  soloOrg = false,
): NewsText {
  const fill = (template: string) => fillChineseTemplate(template, issuer, rng, eventTimeMs);
  const kit = {
    headlines: ZH_HEADLINES,
    body: ZH_BODY_SENTENCES,
    background: ZH_BACKGROUND,
    fill,
    sentenceSeparator: '',
  };
  const article = composeArticle(label, kit, rng, DEFAULT_TEXT_STYLE, soloOrg);
  if (!rng.chance(0.5)) return article;
  const [code, exchange] = codeOf(issuer);
  const written = exchange === 'HK' ? `${code.padStart(5, '0')}.HK` : issuer.ticker;
  const lead = `${issuer.name}（${written}）${chineseDate(rng, eventTimeMs - 3 * 86_400_000)}晚间公告称，`;
  return { headline: article.headline, body: lead + article.body };
}

export function writeChineseChat(
  label: SentimentLabel,
  issuer: Issuer,
  rng: Random,
  eventTimeMs: number,
  soloOrg = false,
): string {
  return fillChineseTemplate(pickTemplate(ZH_CHAT_TEMPLATES[label], rng, soloOrg), issuer, rng, eventTimeMs);
}

/**
 * The language tag a Chinese document arrives with. Most producers say `zh` (or a regional tag); some
 * tag everything `en` by default and some send `und` (they do not know): the pipeline's language
 * routing must see through both (src/inference/language.ts: the script contradicts `en`, ELD decides `und`).
 */
export function chineseLanguageTag(rng: Random): string {
  return rng.weighted([
    ['zh', 0.7],
    ['zh-CN', 0.1],
    ['zh-Hans', 0.05],
    ['en', 0.08],
    ['und', 0.07],
  ] as const);
}

const ZH_REWRITES: ReadonlyArray<readonly [RegExp, string]> = [
  [/公司/, '该公司'],
  [/股价/, '股票价格'],
  [/同比/, '较上年同期'],
  [/表示/, '称'],
];

/** A light rewrite by a Chinese outlet's desk: a word changed, and a source line (来源：…). */
export function lightRewriteChinese(text: string, rng: Random, outlet: string): string {
  let out = text;
  for (const [pattern, replacement] of ZH_REWRITES)
    if (rng.chance(0.5)) out = out.replace(pattern, replacement);
  return rng.chance(0.5) ? `${out}（来源：${outlet}）` : `【${outlet}】${out}`;
}
