import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import type { SentimentLabel } from '../../../domain/enrichment.js';
import { iob1ToIob2 } from './metrics.js';

export interface SentimentExample {
  text: string;
  label: SentimentLabel;
  agreement?: number;
}

const CANONICAL = new Set(['negative', 'neutral', 'positive']);
/** Twitter Financial News: 0 = bearish, 1 = bullish, 2 = neutral. */
const NUMERIC_LABELS: Record<string, SentimentLabel> = { '0': 'negative', '1': 'positive', '2': 'neutral' };

/**
 * Sentiment evaluation data: TSV with header `sentence\tlabel\tagreement` (Financial PhraseBank,
 * labels as words) or CSV with header `text,label` (labels 0 = negative, 1 = positive, 2 = neutral).
 */
export function parseSentimentData(content: string, fileName: string): SentimentExample[] {
  const isTsv = fileName.endsWith('.tsv') || (content.split('\n', 1)[0] ?? '').includes('\t');
  const rows = parse(content, {
    columns: true,
    delimiter: isTsv ? '\t' : ',',
    // PhraseBank sentences contain bare quotes; the TSV has no quoting.
    quote: isTsv ? false : '"',
    skip_empty_lines: true,
    relax_column_count: false,
  }) as Array<Record<string, string>>;
  return rows.map((row, i) => {
    const text = row['sentence'] ?? row['text'];
    const raw = (row['label'] ?? '').trim();
    if (text === undefined) throw new Error(`${fileName}: row ${i + 2} has no sentence/text column`);
    const label = CANONICAL.has(raw.toLowerCase())
      ? (raw.toLowerCase() as SentimentLabel)
      : NUMERIC_LABELS[raw];
    if (!label) throw new Error(`${fileName}: row ${i + 2}: unknown label "${raw}"`);
    const agreement = row['agreement'] !== undefined ? Number(row['agreement']) : undefined;
    return agreement !== undefined && Number.isFinite(agreement)
      ? { text, label, agreement }
      : { text, label };
  });
}

export interface ConllSentence {
  tokens: string[];
  /** IOB2 tags (converted from the file's IOB1 when needed). */
  tags: string[];
}

/** CoNLL-2003 style: token first, tag last, blank line between sentences, -DOCSTART- ignored. */
export function parseConll(content: string): ConllSentence[] {
  const sentences: ConllSentence[] = [];
  let tokens: string[] = [];
  let tags: string[] = [];
  const flush = () => {
    if (tokens.length > 0) sentences.push({ tokens, tags: iob1ToIob2(tags) });
    tokens = [];
    tags = [];
  };
  for (const line of content.split(/\r?\n/)) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    const parts = line.trim().split(/\s+/);
    if (parts[0] === '-DOCSTART-') {
      flush();
      continue;
    }
    tokens.push(parts[0] ?? '');
    tags.push(parts[parts.length - 1] ?? 'O');
  }
  flush();
  return sentences;
}

export function readFile(path: string): string {
  return readFileSync(path, 'utf8');
}

/** Joins tokens with single spaces; returns the text and each token's [start, end). */
export function detokenize(tokens: readonly string[]): { text: string; spans: Array<[number, number]> } {
  const spans: Array<[number, number]> = [];
  let text = '';
  for (const token of tokens) {
    if (text.length > 0) text += ' ';
    spans.push([text.length, text.length + token.length]);
    text += token;
  }
  return { text, spans };
}

/** BIO tags of gold tokens from predicted character spans (B- on the first token an entity covers). */
export function tagsFromEntities(
  spans: ReadonlyArray<[number, number]>,
  entities: ReadonlyArray<{ type: string; start: number; end: number }>,
): string[] {
  return spans.map(([s, e]) => {
    const entity = entities.find((en) => en.start < e && s < en.end);
    if (!entity) return 'O';
    const first = spans.findIndex(([ts, te]) => entity.start < te && ts < entity.end);
    return `${spans[first]?.[0] === s ? 'B' : 'I'}-${entity.type}`;
  });
}

/**
 * The deterministic hash split that training/common.py uses to hold a dev portion out of a file
 * that has no dev split of its own (the Twitter Financial News train file): a row is "dev" when the
 * first 8 hex digits of sha256(text), read as an integer, modulo 100 are below `devPercent`.
 */
/**
 * The Chinese sentiment rows of ../shared/data/zh_translated (train-*.jsonl) in the project's dev
 * split: 10% by a hash of "zh:" + the row id, as training/zh_data.py splits them (their English
 * originals were kept out of training). `origin` says which English set a row renders.
 */
export function parseZhSentimentDev(
  content: string,
): Array<SentimentExample & { origin: 'phrasebank' | 'twitter' }> {
  const out: Array<SentimentExample & { origin: 'phrasebank' | 'twitter' }> = [];
  for (const line of content.split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { id: string; task: string; origin: string; label: string; zh: string };
    if (row.task !== 'sentiment' || !isHashDev(`zh:${row.id}`)) continue;
    if (!CANONICAL.has(row.label)) throw new Error(`zh_translated ${row.id}: unknown label "${row.label}"`);
    out.push({
      text: row.zh,
      label: row.label as SentimentLabel,
      origin: row.origin.startsWith('twitter') ? 'twitter' : 'phrasebank',
    });
  }
  return out;
}

/** A text with its gold entities as character spans (UTF-16 offsets, as the engine's entities). */
export interface SpanExample {
  text: string;
  entities: Array<{ type: string; start: number; end: number }>;
}

const ENTITY_MARKUP = /\[(PER|ORG|LOC|MISC) ([^[\]]+)\]/gu;

/** `[TYPE entity]` markup (zh_translated's SOURCES.md) stripped into the text and its entity spans. */
export function stripEntityMarkup(marked: string): SpanExample {
  const entities: SpanExample['entities'] = [];
  let text = '';
  let position = 0;
  for (const m of marked.matchAll(ENTITY_MARKUP)) {
    text += marked.slice(position, m.index);
    const [, type = '', entity = ''] = m;
    entities.push({ type, start: text.length, end: text.length + entity.length });
    text += entity;
    position = m.index + m[0].length;
  }
  return { text: text + marked.slice(position), entities };
}

/** The Chinese NER rows of zh_translated in the project's dev split (as parseZhSentimentDev). */
export function parseZhNerDev(content: string): SpanExample[] {
  const out: SpanExample[] = [];
  for (const line of content.split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { id: string; task: string; zh: string };
    if (row.task === 'ner' && isHashDev(`zh:${row.id}`)) out.push(stripEntityMarkup(row.zh));
  }
  return out;
}

export function isHashDev(text: string, devPercent = 10): boolean {
  const head = createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 8);
  return Number.parseInt(head, 16) % 100 < devPercent;
}
