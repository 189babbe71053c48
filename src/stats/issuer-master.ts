/**
 * One issuer, one group (docs/alerting.md "Surge"): a small security master (id, name, aliases,
 * tickers, region) to which ticker fields and NER ORG mentions resolve. Without it the demo's
 * surging issuer fired twice ("nwec" from the ticker, "northwind energy corp" from the NER) and the
 * issuer dimension filled with fragments ("n", "board of"), exchanges and the product's own name.
 *
 * A mention resolves to an issuer id, is ignored (with the reason), or stays unresolved — unresolved
 * ORG mentions are counted apart, never as issuers.
 */

export interface IssuerEntry {
  id: string;
  name: string;
  aliases: string[];
  tickers: string[];
  region: string;
}

export type Resolution =
  | { kind: 'issuer'; id: string }
  | { kind: 'ignored'; reason: 'fragment' | 'stop-word' | 'exchange' | 'configured' }
  | { kind: 'unresolved'; mention: string };

/** Legal forms dropped from the end of a name ("Northwind Energy Corp" ≡ "Northwind Energy"). */
const LEGAL_FORMS = new Set([
  'inc',
  'incorporated',
  'corp',
  'corporation',
  'co',
  'company',
  'plc',
  'ag',
  'sa',
  'sab',
  'se',
  'nv',
  'bv',
  'ltd',
  'limited',
  'llc',
  'lp',
  'kk',
  'asa',
  'ab',
  'spa',
  'bhd',
  'tbk',
  'oyj',
  'de',
  'cv',
]);

/** Words that on their own (or all together) are no issuer: NER fragments of titles and boilerplate. */
const STOP_WORDS = new Set([
  'a',
  'an',
  'and',
  'the',
  'of',
  'for',
  'in',
  'on',
  'at',
  'to',
  'by',
  'board',
  'company',
  'group',
  'holdings',
  'management',
  'investors',
  'shareholders',
  'analysts',
  'ceo',
  'cfo',
  'chairman',
  'directors',
  'committee',
  'bank',
  'fund',
  'market',
  'markets',
  'inc',
  'corp',
  'plc',
  'ltd',
]);

/** Exchanges and trading venues are organisations in news but never issuers of the story. */
const EXCHANGE_PATTERN =
  /\b(stock exchange|exchange|bourse|bolsa|borsa|börse|boerse|nasdaq|nyse|b3|euronext|lse|tse|hkex|sgx|asx|jse)\b/u;

/** The normalised form names and mentions are compared in: lower case, letters/digits, single spaces. */
export function normalizeName(raw: string): string {
  return raw
    .normalize('NFKC')
    .toLowerCase()
    .replace(/^\$/u, '')
    .replace(/[^\p{L}\p{N}&]+/gu, ' ')
    .trim();
}

function withoutLegalForm(name: string): string {
  const words = name.split(' ');
  while (words.length > 1 && LEGAL_FORMS.has(words[words.length - 1]!)) words.pop();
  return words.join(' ');
}

export interface ResolverOptions {
  /** Extra mentions never to treat as issuers (the product's own name, house brands). */
  ignore?: readonly string[];
  /** Mentions of at most this many characters are NER fragments. */
  maxFragmentLength?: number;
}

export class IssuerResolver {
  private readonly index = new Map<string, string>();
  private readonly ignore: Set<string>;
  private readonly maxFragment: number;
  readonly issuers: ReadonlyMap<string, IssuerEntry>;

  constructor(entries: readonly IssuerEntry[], options: ResolverOptions = {}) {
    this.ignore = new Set(['finsentry', ...(options.ignore ?? [])].map(normalizeName));
    this.maxFragment = options.maxFragmentLength ?? 2;
    const issuers = new Map<string, IssuerEntry>();
    for (const e of entries) {
      if (issuers.has(e.id)) throw new Error(`issuer master: duplicate id ${e.id}`);
      issuers.set(e.id, e);
      for (const key of [e.name, ...e.aliases, ...e.tickers].map(normalizeName)) {
        for (const k of new Set([key, withoutLegalForm(key)])) {
          if (!k) continue;
          const owner = this.index.get(k);
          if (owner !== undefined && owner !== e.id)
            throw new Error(`issuer master: "${k}" names both ${owner} and ${e.id}`);
          this.index.set(k, e.id);
        }
      }
    }
    this.issuers = issuers;
  }

  resolve(mention: string): Resolution {
    const key = normalizeName(mention);
    const id = this.index.get(key) ?? this.index.get(withoutLegalForm(key));
    if (id !== undefined) return { kind: 'issuer', id };
    if (this.ignore.has(key)) return { kind: 'ignored', reason: 'configured' };
    if (key.replace(/\s/g, '').length <= this.maxFragment) return { kind: 'ignored', reason: 'fragment' };
    if (key.split(' ').every((w) => STOP_WORDS.has(w))) return { kind: 'ignored', reason: 'stop-word' };
    if (EXCHANGE_PATTERN.test(key)) return { kind: 'ignored', reason: 'exchange' };
    return { kind: 'unresolved', mention: key };
  }

  /** Issuers of one document from its ticker field and its ORG mentions; unresolved ORGs apart. */
  resolveDocument(
    tickers: readonly string[],
    orgMentions: readonly string[],
  ): { issuers: string[]; unresolved: string[] } {
    const issuers = new Set<string>();
    const unresolved = new Set<string>();
    for (const m of [...tickers, ...orgMentions]) {
      const r = this.resolve(m);
      if (r.kind === 'issuer') issuers.add(r.id);
      else if (r.kind === 'unresolved') unresolved.add(r.mention);
    }
    return { issuers: [...issuers].sort(), unresolved: [...unresolved].sort() };
  }
}

const HEADER = ['id', 'name', 'aliases', 'tickers', 'region'] as const;

function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') field += line[i++];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out.map((f) => f.trim());
}

/**
 * The security master as CSV: header `id,name,aliases,tickers,region`; aliases and tickers are
 * `|`-separated; `#` lines and blank lines are skipped. Errors name the line.
 */
export function parseIssuerCsv(text: string, source = 'issuers'): IssuerEntry[] {
  const lines = text.split(/\r?\n/);
  const entries: IssuerEntry[] = [];
  let header: string[] | undefined;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = splitCsvLine(line);
    if (!header) {
      header = fields.map((f) => f.toLowerCase());
      const missing = HEADER.filter((h) => !header!.includes(h));
      if (missing.length) throw new Error(`${source}:${i + 1}: header lacks ${missing.join(', ')}`);
      return;
    }
    const get = (name: (typeof HEADER)[number]) => fields[header!.indexOf(name)] ?? '';
    const list = (name: (typeof HEADER)[number]) =>
      get(name)
        .split('|')
        .map((s) => s.trim())
        .filter(Boolean);
    const id = get('id');
    const name = get('name');
    if (!id || !name) throw new Error(`${source}:${i + 1}: id and name are required`);
    entries.push({ id, name, aliases: list('aliases'), tickers: list('tickers'), region: get('region') });
  });
  if (!header) throw new Error(`${source}: empty issuer master`);
  return entries;
}

function csvField(value: string): string {
  return /[",|\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function formatIssuerCsv(entries: readonly IssuerEntry[]): string {
  const rows = entries.map((e) =>
    [e.id, e.name, e.aliases.join('|'), e.tickers.join('|'), e.region].map(csvField).join(','),
  );
  return `${HEADER.join(',')}\n${rows.join('\n')}\n`;
}
