/**
 * Security codes in text and in producers' ticker fields (design §4, the `ticker` dimension). Chinese
 * traffic writes one A-share or Hong Kong code many ways — `600519.SH`, `600519.SS` (Yahoo),
 * `600519.XSHG`, `SH600519`, `sh600519` (Sina), 雪球's `$贵州茅台(SH600519)$`, 股吧's `$600519`,
 * `00700.HK`, `0700.HK`, `HK00700` — and one issuer must be one group, so every form becomes one
 * canonical `CODE.EXCHANGE` (600519.SH, 000001.SZ, 430047.BJ, 0700.HK).
 *
 * Reading codes from text is for documents whose producer sends no tickers. Chinese text is full of
 * six-digit numbers (amounts, dates, counts), so a number is a code only when something says so:
 *  - an exchange suffix or prefix (600519.SH, SZ000001, 00700.HK, HK00700);
 *  - 雪球's `$name(code)$`;
 *  - a `$` before six digits with an A-share prefix, in text that has Han characters (股吧 writes
 *    `$600519`; in English `$300000` is money);
 *  - a bare six-digit (or five-digit Hong Kong) number that the security master lists, and that is not
 *    followed by a unit (万, 亿, 元, %, 股, 年 …) or glued to other digits.
 * English cashtags (`$NWEC`) are read too. Everything else — 营收600519万元, 20240601, 2024.06.01,
 * $600,519, $600519.50 — is no ticker.
 */

export interface TickerExtraction {
  /** Canonical tickers of the security master: bare codes count only when listed here. */
  known?: ReadonlySet<string>;
  /** At most this many tickers (in order of appearance); the rest is dropped. */
  max?: number;
}

const A_SHARE_EXCHANGE: Readonly<Record<string, string>> = {
  SH: 'SH',
  SS: 'SH',
  XSHG: 'SH',
  SZ: 'SZ',
  XSHE: 'SZ',
  BJ: 'BJ',
};

/** The exchange of a six-digit A-share code from its prefix (SSE 60/68/90, SZSE 00/30/20, BSE 4/8/92). */
export function aShareExchange(code: string): 'SH' | 'SZ' | 'BJ' | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  if (/^(60|68|90)/.test(code)) return 'SH';
  if (/^(00|30|20)/.test(code)) return 'SZ';
  if (/^(4|8|92)/.test(code)) return 'BJ';
  return undefined;
}

/** Hong Kong codes are written with 4 or 5 digits (0700, 00700): canonical is 4 (or more) digits. */
function hongKong(code: string): string {
  return `${String(Number(code)).padStart(4, '0')}.HK`;
}

/**
 * The canonical form of one ticker as a producer sent it: trimmed, upper case, and the Chinese forms
 * above rewritten to CODE.EXCHANGE. Anything else is kept as it is (upper-cased).
 */
export function canonicalTicker(raw: string): string {
  const t = raw.trim().toUpperCase();
  let m = /^(\d{6})\.(SH|SS|SZ|BJ|XSHG|XSHE)$/.exec(t);
  if (m) return `${m[1]}.${A_SHARE_EXCHANGE[m[2]!]}`;
  m = /^(SH|SZ|BJ)(\d{6})$/.exec(t);
  if (m) return `${m[2]}.${m[1]}`;
  m = /^(\d{4,5})\.HK$/.exec(t) ?? /^HK(\d{5})$/.exec(t);
  if (m) return hongKong(m[1]!);
  return t;
}

/** A number glued to a unit or to more digits is an amount, a date or a count, not a code. */
const NOT_A_CODE_AFTER = String.raw`(?![0-9A-Za-z]|[.,，．]\d|\s?[%％万亿元股手年月日号个倍])`;

interface Pattern {
  re: RegExp;
  read: (m: RegExpExecArray, text: string, known: ReadonlySet<string> | undefined) => string | undefined;
}

const HAN = /\p{Script=Han}/u;

const PATTERNS: readonly Pattern[] = [
  // 雪球: $贵州茅台(SH600519)$, $腾讯控股(00700)$, $特斯拉(TSLA)$.
  {
    re: /\$[^\s$()（）]{1,24}[(（]([A-Z]{2}\d{6}|\d{5}|[A-Z]{1,5})[)）]\$/gu,
    read: (m) => (/^\d{5}$/.test(m[1]!) ? hongKong(m[1]!) : canonicalTicker(m[1]!)),
  },
  // 600519.SH, 600519.ss, 000001.XSHE
  {
    re: /(?<![0-9A-Za-z.])(\d{6})\.(SH|SS|SZ|BJ|XSHG|XSHE)(?![0-9A-Za-z])/giu,
    read: (m) => canonicalTicker(`${m[1]}.${m[2]}`),
  },
  // 0700.HK, 00700.HK
  { re: /(?<![0-9A-Za-z.])(\d{4,5})\.HK(?![0-9A-Za-z])/giu, read: (m) => hongKong(m[1]!) },
  // SH600519, sz000001, HK00700
  {
    re: /(?<![0-9A-Za-z])(SH|SZ|BJ|HK)(\d{6}|\d{5})(?![0-9])/giu,
    read: (m) => {
      const prefix = m[1]!.toUpperCase();
      if (prefix === 'HK') return m[2]!.length === 5 ? hongKong(m[2]!) : undefined;
      return m[2]!.length === 6 ? `${m[2]}.${prefix}` : undefined;
    },
  },
  // 股吧: $600519 (Chinese text only; an A-share prefix).
  {
    re: new RegExp(String.raw`(?<![0-9A-Za-z$])\$(\d{6})${NOT_A_CODE_AFTER}`, 'gu'),
    read: (m, text) => {
      const exchange = aShareExchange(m[1]!);
      return exchange && HAN.test(text) ? `${m[1]}.${exchange}` : undefined;
    },
  },
  // $NWEC
  { re: /(?<![0-9A-Za-z$])\$([A-Z]{2,6})(?![0-9A-Za-z])/gu, read: (m) => m[1] },
  // A bare code the security master lists: 600519, 00700.
  {
    re: new RegExp(String.raw`(?<![0-9A-Za-z$.,])(\d{6}|\d{5})${NOT_A_CODE_AFTER}`, 'gu'),
    read: (m, _text, known) => {
      if (!known) return undefined;
      const code = m[1]!;
      const exchange = aShareExchange(code);
      const candidate = code.length === 5 ? hongKong(code) : exchange ? `${code}.${exchange}` : undefined;
      return candidate !== undefined && known.has(candidate) ? candidate : undefined;
    },
  },
];

/** Canonical tickers a text names, in order of first appearance, without duplicates. */
export function extractTickers(text: string, options: TickerExtraction = {}): string[] {
  const found: Array<{ at: number; ticker: string }> = [];
  const taken: Array<[number, number]> = [];
  for (const { re, read } of PATTERNS) {
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const from = m.index;
      const to = from + m[0].length;
      // A span an earlier (more specific) pattern read is not read again: SH600519 inside $…(SH600519)$.
      if (taken.some(([a, b]) => from < b && to > a)) continue;
      const ticker = read(m, text, options.known);
      if (ticker === undefined) continue;
      taken.push([from, to]);
      found.push({ at: from, ticker });
    }
  }
  const out = [...new Set(found.sort((a, b) => a.at - b.at).map((f) => f.ticker))];
  return options.max !== undefined ? out.slice(0, options.max) : out;
}
