import type { Issuer, Sector, ZhRegion } from './universe.js';
import { ZH_REGIONS } from './universe.js';

/**
 * The Chinese-language market of the scenarios (金融舆情监测, issue 15): A-share and Hong Kong issuers
 * written about in Chinese news and 股吧/雪球 chat. Unlike the invented English universe these are
 * real listed companies with their real codes (600519.SH, 0700.HK), because what the pipeline must
 * handle is how real Chinese traffic names them; every text about them is synthetic and says nothing
 * about the companies. `name` is the short company name news uses (贵州茅台) — the NER's ORG span and
 * the `issuer` group; `shortName` the chat nickname (茅台); tickers are canonical `CODE.EXCHANGE`
 * (src/domain/tickers.ts).
 */

function zhIssuer(
  name: string,
  shortName: string,
  ticker: string,
  sector: Sector,
  region: ZhRegion,
  city: string,
  otherNames: readonly string[],
): Issuer {
  const exchange = ticker.endsWith('.HK')
    ? '香港交易所'
    : ticker.endsWith('.SZ')
      ? '深圳证券交易所'
      : '上海证券交易所';
  const currency = region === 'hk' ? 'HKD' : 'CNY';
  return { name, shortName, ticker, sector, region, currency, city, exchange, language: 'zh', otherNames };
}

/** 20 issuers: 15 mainland (cn), 5 Hong Kong (hk). */
export const CHINESE_ISSUERS: readonly Issuer[] = [
  zhIssuer('贵州茅台', '茅台', '600519.SH', 'retail', 'cn', '仁怀', ['Kweichow Moutai']),
  zhIssuer('中国平安', '平安', '601318.SH', 'insurance', 'cn', '深圳', ['Ping An Insurance']),
  zhIssuer('宁德时代', '宁王', '300750.SZ', 'autos', 'cn', '宁德', ['CATL']),
  zhIssuer('招商银行', '招行', '600036.SH', 'banks', 'cn', '深圳', ['China Merchants Bank']),
  zhIssuer('比亚迪', '迪王', '002594.SZ', 'autos', 'cn', '深圳', ['BYD']),
  zhIssuer('工商银行', '工行', '601398.SH', 'banks', 'cn', '北京', ['ICBC']),
  zhIssuer('中国石油', '中石油', '601857.SH', 'energy', 'cn', '北京', ['PetroChina']),
  zhIssuer('美的集团', '美的', '000333.SZ', 'retail', 'cn', '佛山', ['Midea Group']),
  zhIssuer('五粮液', '五粮', '000858.SZ', 'retail', 'cn', '宜宾', ['Wuliangye Yibin']),
  zhIssuer('隆基绿能', '隆基', '601012.SH', 'utilities', 'cn', '西安', ['LONGi Green Energy']),
  zhIssuer('紫金矿业', '紫金', '601899.SH', 'mining', 'cn', '龙岩', ['Zijin Mining']),
  zhIssuer('恒瑞医药', '恒瑞', '600276.SH', 'pharma', 'cn', '连云港', ['Jiangsu Hengrui']),
  // 000001.SZ (平安银行) shares its digits with the Shanghai Composite index 000001.SH: a bare
  // "000001" in text is no ticker (src/domain/tickers.ts).
  zhIssuer('平安银行', '平银', '000001.SZ', 'banks', 'cn', '深圳', ['Ping An Bank']),
  zhIssuer('中国国航', '国航', '601111.SH', 'airlines', 'cn', '北京', ['Air China']),
  zhIssuer('长江电力', '长电', '600900.SH', 'utilities', 'cn', '北京', ['China Yangtze Power']),
  zhIssuer('腾讯控股', '鹅厂', '0700.HK', 'technology', 'hk', '深圳', ['Tencent Holdings', '腾讯']),
  zhIssuer('中国移动', '移动', '0941.HK', 'telecom', 'hk', '香港', ['China Mobile']),
  zhIssuer('阿里巴巴', '阿里', '9988.HK', 'technology', 'hk', '杭州', ['Alibaba Group']),
  zhIssuer('友邦保险', '友邦', '1299.HK', 'insurance', 'hk', '香港', ['AIA Group']),
  zhIssuer('万科企业', '万科', '2202.HK', 'real-estate', 'hk', '深圳', ['China Vanke']),
];

/** Traffic share of the two regions within Chinese traffic. */
export const ZH_REGION_WEIGHTS: Readonly<Record<ZhRegion, number>> = { cn: 0.75, hk: 0.25 };

/** Chinese-language news outlets (invented source ids). */
export const ZH_NEWS_SOURCE_WEIGHTS: ReadonlyArray<readonly [string, number]> = [
  ['huaxia-caijing', 0.4],
  ['dongfang-kuaixun', 0.35],
  ['gangao-jingji', 0.25],
];

/** 股吧-style forums and 雪球-style investor communities (platform ids as producers send them). */
export const ZH_CHAT_PLATFORMS: ReadonlyArray<{
  platform: string;
  weight: number;
  channels: readonly string[];
}> = [
  { platform: 'guba', weight: 0.6, channels: ['个股吧', '主力资金', '港股通'] },
  { platform: 'xueqiu', weight: 0.4, channels: ['热帖', '自选股', '价值投资'] },
];

export const ZH_BROKERS = ['华信证券', '东岳证券', '长城研究所', '南山资本'] as const;
export const ZH_PEOPLE = ['王建国', '李明', '张晓燕', '陈立新', '刘芳', '赵志强'] as const;
export const ZH_CLIENTS = ['国家电网', '某大型国有车企', '某省级医院集团', '某中央企业'] as const;

export function chineseIssuersByRegion(region: ZhRegion): Issuer[] {
  return CHINESE_ISSUERS.filter((i) => i.region === region);
}

/** The first `n` Chinese issuers, interleaved by region so that both keep issuers. */
export function selectChineseUniverse(n: number | undefined): Issuer[] {
  if (n === undefined || n >= CHINESE_ISSUERS.length) return [...CHINESE_ISSUERS];
  if (n < ZH_REGIONS.length) throw new Error(`zh.universeSize must be at least ${ZH_REGIONS.length}`);
  const byRegion = ZH_REGIONS.map((r) => chineseIssuersByRegion(r));
  const out: Issuer[] = [];
  for (let k = 0; out.length < n; k++)
    for (const list of byRegion) if (list[k] && out.length < n) out.push(list[k]!);
  return out;
}
