import type { IssuerEntry } from '../../stats/issuer-master.js';

/**
 * The synthetic market the scenarios talk about. Every name here is invented for finsentry (issuers,
 * wires, chat platforms); any resemblance to a real company is accidental. Company names carry a
 * legal-form suffix ("Holdings", "plc", "AG", …) because that is how news names issuers and it lets the
 * NER model tag them as ORG, which is what the `issuer` dimension groups by.
 */

export const REGIONS = ['amer', 'emea', 'apac', 'latam'] as const;
export type Region = (typeof REGIONS)[number];
/** Regions of the Chinese-language market (src/tools/scenarios/universe-zh.ts): mainland A-shares, Hong Kong. */
export const ZH_REGIONS = ['cn', 'hk'] as const;
export type ZhRegion = (typeof ZH_REGIONS)[number];
/** Any region an issuer can be in. */
export type MarketRegion = Region | ZhRegion;

export const SECTORS = [
  'banks',
  'energy',
  'technology',
  'pharma',
  'autos',
  'retail',
  'telecom',
  'mining',
  'insurance',
  'utilities',
  'airlines',
  'real-estate',
] as const;
export type Sector = (typeof SECTORS)[number];

export interface Issuer {
  /** Full name as written in news: the NER's ORG span and, lower-cased, the `issuer` group. */
  name: string;
  /** Short name as people say it; texts use the full name throughout so NER yields one group per issuer. */
  shortName: string;
  ticker: string;
  sector: Sector;
  region: MarketRegion;
  /** Reporting currency, used in figures ("EUR 12.4 million"). */
  currency: string;
  city: string;
  exchange: string;
  /** Language its coverage is written in; absent = English. */
  language?: 'zh';
  /** Other names the security master knows it by (English name, full legal name); Chinese issuers only. */
  otherNames?: readonly string[];
}

export function issuer(
  name: string,
  shortName: string,
  ticker: string,
  sector: Sector,
  region: MarketRegion,
  currency: string,
  city: string,
  exchange: string,
): Issuer {
  return { name, shortName, ticker, sector, region, currency, city, exchange };
}

/** 60 issuers: 18 amer, 18 emea, 14 apac, 10 latam. */
export const ISSUERS: readonly Issuer[] = [
  // amer
  issuer(
    'Northwind Energy Corp',
    'Northwind',
    'NWEC',
    'energy',
    'amer',
    'USD',
    'Houston',
    'New York Stock Exchange',
  ),
  issuer(
    'Bluehaven Bancorp',
    'Bluehaven',
    'BHBC',
    'banks',
    'amer',
    'USD',
    'Charlotte',
    'New York Stock Exchange',
  ),
  issuer(
    'Cobalt Ridge Mining Inc',
    'Cobalt Ridge',
    'CRMI',
    'mining',
    'amer',
    'CAD',
    'Vancouver',
    'Toronto Stock Exchange',
  ),
  issuer('Veridian Software Inc', 'Veridian', 'VRDS', 'technology', 'amer', 'USD', 'Austin', 'Nasdaq'),
  issuer('Lakeshore Pharmaceuticals Inc', 'Lakeshore', 'LKPH', 'pharma', 'amer', 'USD', 'Boston', 'Nasdaq'),
  issuer(
    'Redwood Motors Corp',
    'Redwood',
    'RWMC',
    'autos',
    'amer',
    'USD',
    'Detroit',
    'New York Stock Exchange',
  ),
  issuer(
    'Granite Peak Retail Group',
    'Granite Peak',
    'GPRG',
    'retail',
    'amer',
    'USD',
    'Minneapolis',
    'New York Stock Exchange',
  ),
  issuer(
    'Silverline Telecom Inc',
    'Silverline',
    'SLTI',
    'telecom',
    'amer',
    'USD',
    'Denver',
    'New York Stock Exchange',
  ),
  issuer(
    'Harborview Insurance Holdings',
    'Harborview',
    'HVIH',
    'insurance',
    'amer',
    'USD',
    'Hartford',
    'New York Stock Exchange',
  ),
  issuer(
    'Prairie Gas and Electric Co',
    'Prairie Gas',
    'PGEC',
    'utilities',
    'amer',
    'USD',
    'Omaha',
    'New York Stock Exchange',
  ),
  issuer('Skyward Airlines Holdings', 'Skyward', 'SKWA', 'airlines', 'amer', 'USD', 'Dallas', 'Nasdaq'),
  issuer(
    'Meridian Realty Trust',
    'Meridian Realty',
    'MRRT',
    'real-estate',
    'amer',
    'USD',
    'Chicago',
    'New York Stock Exchange',
  ),
  issuer(
    'Quarry Lane Semiconductor Corp',
    'Quarry Lane',
    'QLSC',
    'technology',
    'amer',
    'USD',
    'San Jose',
    'Nasdaq',
  ),
  issuer(
    'Oakmont Financial Group',
    'Oakmont',
    'OKFG',
    'banks',
    'amer',
    'USD',
    'New York',
    'New York Stock Exchange',
  ),
  issuer('Tidewater Biologics Inc', 'Tidewater', 'TDWB', 'pharma', 'amer', 'USD', 'San Diego', 'Nasdaq'),
  issuer(
    'Frontier Freight Systems Inc',
    'Frontier Freight',
    'FFSI',
    'autos',
    'amer',
    'USD',
    'Memphis',
    'Nasdaq',
  ),
  issuer(
    'Maple Crest Bank',
    'Maple Crest',
    'MCBK',
    'banks',
    'amer',
    'CAD',
    'Toronto',
    'Toronto Stock Exchange',
  ),
  issuer(
    'Sundance Oil and Gas Ltd',
    'Sundance',
    'SDOG',
    'energy',
    'amer',
    'CAD',
    'Calgary',
    'Toronto Stock Exchange',
  ),
  // emea
  issuer('Halvorsen Industrier ASA', 'Halvorsen', 'HALV', 'energy', 'emea', 'NOK', 'Oslo', 'Oslo Bors'),
  issuer(
    'Brenner Automobilwerke AG',
    'Brenner',
    'BRNA',
    'autos',
    'emea',
    'EUR',
    'Stuttgart',
    'Frankfurt Stock Exchange',
  ),
  issuer('Castellane Banque SA', 'Castellane', 'CSTB', 'banks', 'emea', 'EUR', 'Paris', 'Euronext Paris'),
  issuer(
    'Whitcombe Insurance plc',
    'Whitcombe',
    'WHIN',
    'insurance',
    'emea',
    'GBP',
    'London',
    'London Stock Exchange',
  ),
  issuer('Aaltonen Telecom Oyj', 'Aaltonen', 'AALT', 'telecom', 'emea', 'EUR', 'Helsinki', 'Nasdaq Helsinki'),
  issuer(
    'Vanderlinde Chemie NV',
    'Vanderlinde',
    'VLCH',
    'pharma',
    'emea',
    'EUR',
    'Rotterdam',
    'Euronext Amsterdam',
  ),
  issuer(
    'Marlowe Retail Group plc',
    'Marlowe',
    'MRLW',
    'retail',
    'emea',
    'GBP',
    'Manchester',
    'London Stock Exchange',
  ),
  issuer('Sorrento Energia SpA', 'Sorrento', 'SREN', 'utilities', 'emea', 'EUR', 'Milan', 'Borsa Italiana'),
  issuer('Kestrel Mining plc', 'Kestrel', 'KSTM', 'mining', 'emea', 'GBP', 'London', 'London Stock Exchange'),
  issuer(
    'Lindqvist Software AB',
    'Lindqvist',
    'LNDQ',
    'technology',
    'emea',
    'SEK',
    'Stockholm',
    'Nasdaq Stockholm',
  ),
  issuer(
    'Al Noor Petroleum Co',
    'Al Noor',
    'ANPC',
    'energy',
    'emea',
    'USD',
    'Dubai',
    'Dubai Financial Market',
  ),
  issuer('Zeller Pharma AG', 'Zeller', 'ZLPH', 'pharma', 'emea', 'CHF', 'Basel', 'SIX Swiss Exchange'),
  issuer(
    'Iberia Vial Construcciones SA',
    'Iberia Vial',
    'IBVC',
    'real-estate',
    'emea',
    'EUR',
    'Madrid',
    'Bolsa de Madrid',
  ),
  issuer(
    'Corvane Airways plc',
    'Corvane',
    'CRVA',
    'airlines',
    'emea',
    'GBP',
    'London',
    'London Stock Exchange',
  ),
  issuer(
    'Ostrava Steel Works AS',
    'Ostrava Steel',
    'OSTW',
    'mining',
    'emea',
    'CZK',
    'Ostrava',
    'Prague Stock Exchange',
  ),
  issuer(
    'Karoo Resources Ltd',
    'Karoo',
    'KARO',
    'mining',
    'emea',
    'ZAR',
    'Johannesburg',
    'Johannesburg Stock Exchange',
  ),
  issuer('Dunmore Bank plc', 'Dunmore', 'DNMB', 'banks', 'emea', 'EUR', 'Dublin', 'Euronext Dublin'),
  issuer(
    'Feldmark Versicherung AG',
    'Feldmark',
    'FLDV',
    'insurance',
    'emea',
    'EUR',
    'Munich',
    'Frankfurt Stock Exchange',
  ),
  // apac
  issuer(
    'Takamori Electronics Co',
    'Takamori',
    'TKME',
    'technology',
    'apac',
    'JPY',
    'Osaka',
    'Tokyo Stock Exchange',
  ),
  issuer(
    'Hanshin Heavy Industries Ltd',
    'Hanshin',
    'HSHI',
    'autos',
    'apac',
    'JPY',
    'Kobe',
    'Tokyo Stock Exchange',
  ),
  issuer(
    'Golden Harbour Bank Ltd',
    'Golden Harbour',
    'GHBL',
    'banks',
    'apac',
    'HKD',
    'Hong Kong',
    'Hong Kong Stock Exchange',
  ),
  issuer(
    'Southern Cross Minerals Ltd',
    'Southern Cross',
    'SCML',
    'mining',
    'apac',
    'AUD',
    'Perth',
    'Australian Securities Exchange',
  ),
  issuer(
    'Coral Bay Telecom Ltd',
    'Coral Bay',
    'CBTL',
    'telecom',
    'apac',
    'AUD',
    'Sydney',
    'Australian Securities Exchange',
  ),
  issuer(
    'Lotus Pharma Ltd',
    'Lotus',
    'LTPH',
    'pharma',
    'apac',
    'INR',
    'Mumbai',
    'National Stock Exchange of India',
  ),
  issuer(
    'Jade Summit Holdings Ltd',
    'Jade Summit',
    'JDSH',
    'real-estate',
    'apac',
    'SGD',
    'Singapore',
    'Singapore Exchange',
  ),
  issuer('Hanul Semiconductor Co', 'Hanul', 'HNLS', 'technology', 'apac', 'KRW', 'Seoul', 'Korea Exchange'),
  issuer(
    'Pacific Rim Insurance Group',
    'Pacific Rim',
    'PRIG',
    'insurance',
    'apac',
    'SGD',
    'Singapore',
    'Singapore Exchange',
  ),
  issuer('Kiwi Grid Energy Ltd', 'Kiwi Grid', 'KWGE', 'utilities', 'apac', 'NZD', 'Auckland', 'NZX'),
  issuer(
    'Sakura Retail Holdings',
    'Sakura Retail',
    'SKRH',
    'retail',
    'apac',
    'JPY',
    'Tokyo',
    'Tokyo Stock Exchange',
  ),
  issuer(
    'Bengal Steel Corp',
    'Bengal Steel',
    'BGSC',
    'mining',
    'apac',
    'INR',
    'Kolkata',
    'National Stock Exchange of India',
  ),
  issuer(
    'Straits Airways Ltd',
    'Straits',
    'STRA',
    'airlines',
    'apac',
    'SGD',
    'Singapore',
    'Singapore Exchange',
  ),
  issuer(
    'Mekong Power Corp',
    'Mekong Power',
    'MKPC',
    'energy',
    'apac',
    'USD',
    'Ho Chi Minh City',
    'Ho Chi Minh Stock Exchange',
  ),
  // latam
  issuer('Altiplano Mineracao SA', 'Altiplano', 'ALTM', 'mining', 'latam', 'BRL', 'Belo Horizonte', 'B3'),
  issuer(
    'Banco Cordillera SA',
    'Cordillera',
    'BCDL',
    'banks',
    'latam',
    'CLP',
    'Santiago',
    'Santiago Stock Exchange',
  ),
  issuer(
    'Petrolera del Sur SA',
    'Petrolera del Sur',
    'PDSR',
    'energy',
    'latam',
    'ARS',
    'Buenos Aires',
    'Bolsa de Comercio de Buenos Aires',
  ),
  issuer('Guanabara Telecom SA', 'Guanabara', 'GNBT', 'telecom', 'latam', 'BRL', 'Rio de Janeiro', 'B3'),
  issuer(
    'Aztlan Cementos SAB',
    'Aztlan',
    'AZCM',
    'real-estate',
    'latam',
    'MXN',
    'Monterrey',
    'Bolsa Mexicana de Valores',
  ),
  issuer(
    'Condor Airlines SA',
    'Condor Airlines',
    'CNDA',
    'airlines',
    'latam',
    'COP',
    'Bogota',
    'Bolsa de Valores de Colombia',
  ),
  issuer(
    'Pampas Agro Industrial SA',
    'Pampas',
    'PMAG',
    'retail',
    'latam',
    'ARS',
    'Rosario',
    'Bolsa de Comercio de Buenos Aires',
  ),
  issuer(
    'Seguros Andinos SA',
    'Seguros Andinos',
    'SGAN',
    'insurance',
    'latam',
    'PEN',
    'Lima',
    'Bolsa de Valores de Lima',
  ),
  issuer('Tropico Energia SA', 'Tropico', 'TRPE', 'utilities', 'latam', 'BRL', 'Sao Paulo', 'B3'),
  issuer(
    'Sierra Madre Pharma SAB',
    'Sierra Madre',
    'SMPH',
    'pharma',
    'latam',
    'MXN',
    'Mexico City',
    'Bolsa Mexicana de Valores',
  ),
];

/** Traffic share per region; kept fairly even so that clean traffic has no small, noisy region. */
export const REGION_WEIGHTS: Readonly<Record<Region, number>> = {
  amer: 0.3,
  emea: 0.3,
  apac: 0.24,
  latam: 0.16,
};

/** News wires (invented). `drift` grows the last one from nothing. */
export const NEWS_SOURCES = [
  'globalwire',
  'market-ledger',
  'capital-dispatch',
  'bourse-times',
  'pacific-markets-daily',
  'andes-financial',
] as const;
export const DRIFT_SOURCE = 'quickfeed-aggregator';
export const NEWS_SOURCE_WEIGHTS: ReadonlyArray<readonly [string, number]> = [
  ['globalwire', 0.3],
  ['market-ledger', 0.22],
  ['capital-dispatch', 0.18],
  ['bourse-times', 0.14],
  ['pacific-markets-daily', 0.1],
  ['andes-financial', 0.06],
];

export const CHAT_PLATFORMS: ReadonlyArray<{
  platform: string;
  weight: number;
  channels: readonly string[];
}> = [
  { platform: 'traderboard', weight: 0.5, channels: ['equities', 'earnings', 'options', 'macro'] },
  { platform: 'marketchat', weight: 0.3, channels: ['emea-desk', 'amer-desk', 'apac-desk', 'latam-desk'] },
  { platform: 'pulse', weight: 0.2, channels: ['general', 'small-caps', 'dividends'] },
];

export const BROKERS = [
  'Harrington Securities',
  'Calloway Capital',
  'Ivory Tower Research',
  'Penrose Partners',
  'Stanhope Equities',
  'Ardent Markets',
] as const;

export const PEOPLE = [
  'Maria Okafor',
  'Jonas Lindgren',
  'Priya Raman',
  'Daniel Moreau',
  'Keiko Tanaka',
  'Lucas Ferreira',
  'Hannah Weiss',
  'Omar Haddad',
  'Sofia Marquez',
  'Thomas Brandt',
] as const;

export function issuersByRegion(region: Region): Issuer[] {
  return ISSUERS.filter((i) => i.region === region);
}

export function findIssuer(tickerOrName: string): Issuer | undefined {
  const needle = tickerOrName.toLowerCase();
  return ISSUERS.find((i) => i.ticker.toLowerCase() === needle || i.name.toLowerCase() === needle);
}

/** The `issuer` group the pipeline derives from the NER ORG span: case-folded, whitespace-collapsed. */
export function issuerGroup(issuer: Issuer): string {
  return issuer.name.toLowerCase().replace(/\s+/g, ' ').trim();
}

/**
 * Other `issuer` groups the same issuer shows up under. Chat names issuers by cashtag ($NWEC), and
 * the NER tags the cashtag as an ORG of its own ("nwec"): the issuer's chat documents land in that
 * group, its news (full name) in issuerGroup(). The pipeline has no reference data to link the two.
 */
export function issuerAliases(issuer: Issuer): string[] {
  if (issuer.language === 'zh') {
    // 股吧 chat names the issuer by its short name (茅台) or its code ($600519, SH600519).
    const code = issuer.ticker.split('.')[0]!;
    return [issuer.shortName, code, issuer.ticker.toLowerCase()].filter((a) => a !== issuerGroup(issuer));
  }
  return [issuer.ticker.toLowerCase()];
}

const SYNTHETIC_STEMS = [
  'Alder',
  'Brook',
  'Crest',
  'Dune',
  'Ember',
  'Fjord',
  'Glen',
  'Heron',
  'Iris',
  'Juniper',
  'Kestrel',
  'Linden',
  'Marlow',
  'Nimbus',
  'Orchid',
  'Pinecrest',
  'Quarry',
  'Rowan',
  'Saffron',
  'Thistle',
  'Umber',
  'Vesper',
  'Willow',
  'Yarrow',
  'Zephyr',
] as const;
const SYNTHETIC_TAILS = [
  'field',
  'stone',
  'gate',
  'wood',
  'mark',
  'bridge',
  'haven',
  'point',
  'vale',
  'more',
];
const REGION_LEGAL_FORM: Record<Region, readonly [string, string, string, string]> = {
  amer: ['Holdings Inc', 'USD', 'Chicago', 'New York Stock Exchange'],
  emea: ['Group plc', 'GBP', 'London', 'London Stock Exchange'],
  apac: ['Holdings Ltd', 'SGD', 'Singapore', 'Singapore Exchange'],
  latam: ['Participacoes SA', 'BRL', 'Sao Paulo', 'B3'],
};

/**
 * The k-th invented issuer beyond the 60 written out above (k ≥ 0): the backtest's 500-issuer market.
 * Names are stem + tail + legal form ("Alderfield Holdings Inc"), tickers four letters, regions in
 * the proportions of REGION_WEIGHTS; deterministic in k.
 */
export function syntheticIssuer(k: number): Issuer {
  const stem = SYNTHETIC_STEMS[k % SYNTHETIC_STEMS.length]!;
  const tail = SYNTHETIC_TAILS[Math.floor(k / SYNTHETIC_STEMS.length) % SYNTHETIC_TAILS.length]!;
  const round = Math.floor(k / (SYNTHETIC_STEMS.length * SYNTHETIC_TAILS.length));
  const slot = (k * 0.618034) % 1;
  const region: Region = slot < 0.3 ? 'amer' : slot < 0.6 ? 'emea' : slot < 0.84 ? 'apac' : 'latam';
  const [form, currency, city, exchange] = REGION_LEGAL_FORM[region];
  const short = `${stem}${tail}${round > 0 ? ` ${round + 1}` : ''}`;
  const letters = (n: number) => String.fromCharCode(65 + (n % 26));
  const ticker = `Z${letters(k)}${letters(Math.floor(k / 26))}${letters(Math.floor(k / 676))}`;
  return issuer(
    `${short} ${form}`,
    short,
    ticker,
    SECTORS[k % SECTORS.length]!,
    region,
    currency,
    city,
    exchange,
  );
}

/**
 * The security master of the scenario universe (config/issuers.example.csv is this for the 60
 * written issuers and the Chinese ones of universe-zh.ts): id = lower-case ticker; aliases = the
 * short name and any other names; tickers = the ticker.
 */
export function universeIssuerMaster(issuers: readonly Issuer[]): IssuerEntry[] {
  return issuers.map((i) => ({
    id: i.ticker.toLowerCase(),
    name: i.name,
    aliases: [
      ...(i.shortName.toLowerCase() === i.name.toLowerCase() ? [] : [i.shortName]),
      ...(i.otherNames ?? []),
    ],
    tickers: [i.ticker],
    region: i.region,
  }));
}
