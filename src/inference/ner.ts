import type { EntitySpan } from '../domain/enrichment.js';
import { BioViterbi } from './bio-viterbi.js';
import { casedLines, casePriorOffsets, type CasePrior } from './case-prior.js';
import { parseBioLabel } from './label-set.js';
import { argmax, softmax } from './sentiment.js';
import type { TokenWindow } from './tokenize.js';

/**
 * BIO decoding with the aggregation strategies of the Hugging Face TokenClassificationPipeline
 * (transformers/pipelines/token_classification.py), re-implemented from its documented semantics:
 *
 * - every non-special token gets softmax scores; it is a sub-word when its vocabulary string is
 *   longer than the text it covers (WordPiece "##" prefix), or — for tokenizers without a
 *   continuing-subword prefix — when it does not follow a space; an [UNK] token is never a sub-word;
 * - SentencePiece (Metaspace) tokenizers, where we depart from the pipeline (docs/inference.md
 *   "Joint models"): a bare "▁" token is skipped (it covers no character of its own, its offset
 *   overlaps the next token, and training labelled it -100); a token's span starts after the space
 *   its offset includes ("▁Inc" covers " Inc"); a token that starts with, or follows, a Han or Kana
 *   character is a word of its own, since Chinese and Japanese have no spaces and "follows a space"
 *   would merge a whole sentence into one word under first/max/average;
 * - simple: each token keeps its arg-max label and score;
 * - viterbi (ours, not the pipeline's): each token takes its label on the most probable valid BIO
 *   sequence of the window (bio-viterbi.ts), and that label's score, so an entity is not broken into
 *   pieces of different types; then grouped as simple;
 *   first / max / average: tokens are first merged into words, taking the label of the first token,
 *   of the token with the highest score, or the arg-max of the mean score vector;
 * - consecutive tokens/words with the same type are grouped unless the next one is a B- label; the
 *   group's score is the mean of its members' scores; groups of type O are dropped;
 * - windows of a long text are decoded separately and overlapping entities resolved as the
 *   pipeline does for stride chunks: of overlapping entities the longest wins, then the higher score.
 */
export type AggregationStrategy = 'simple' | 'first' | 'max' | 'average' | 'viterbi';
export const AGGREGATION_STRATEGIES: readonly AggregationStrategy[] = [
  'simple',
  'first',
  'max',
  'average',
  'viterbi',
];

export interface NerVocabulary {
  idToToken(id: number): string;
  unkId: number | undefined;
  continuingSubwordPrefix: string | undefined;
}

/** An entity with the HF pipeline's fields; start/end in UTF-16 code units. */
export interface RawEntity {
  type: string;
  score: number;
  start: number;
  end: number;
  /** Token strings that make up the entity (for diagnostics and parity checks). */
  tokens: string[];
}

interface PreEntity {
  token: string;
  scores: number[];
  start: number;
  end: number;
  isSubword: boolean;
}

interface LabelledUnit {
  label: string;
  score: number;
  start: number;
  end: number;
  tokens: string[];
}

/** SentencePiece's word-start marker (Metaspace replacement). */
const METASPACE = '\u2581';
/** Scripts written without spaces between words. */
const CJK_START = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
const CJK_END = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]$/u;

/** Whether the token at `start` begins a word in text without a continuing-subword prefix. */
function startsWord(text: string, start: number): boolean {
  if (start === 0 || text.slice(start - 1, start + 1).includes(' ')) return true;
  return (
    CJK_START.test(text.slice(start, start + 2)) || CJK_END.test(text.slice(Math.max(0, start - 2), start))
  );
}

const codePointLength = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** Per-token scores of one window: logits[token*numLabels ..] softmaxed, special tokens skipped. */
export function gatherPreEntities(
  text: string,
  window: TokenWindow,
  logits: ArrayLike<number>,
  logitsOffset: number,
  numLabels: number,
  vocab: NerVocabulary,
): PreEntity[] {
  const out: PreEntity[] = [];
  for (let t = 0; t < window.ids.length; t++) {
    if (window.specialMask[t] === 1) continue;
    const id = window.ids[t] ?? 0;
    let token = vocab.idToToken(id);
    if (token === METASPACE) continue;
    const [offsetStart, end] = window.offsets[t] ?? [0, 0];
    let start = offsetStart;
    while (start < end && /\s/u.test(text[start] ?? '')) start++;
    const wordRef = text.slice(start, end);
    let isSubword: boolean;
    if (vocab.continuingSubwordPrefix) {
      isSubword = codePointLength(token) !== codePointLength(wordRef);
    } else {
      isSubword = !startsWord(text, start);
    }
    if (vocab.unkId !== undefined && id === vocab.unkId) {
      token = wordRef;
      isSubword = false;
    }
    out.push({
      token,
      scores: softmax(logits, logitsOffset + t * numLabels, numLabels),
      start,
      end,
      isSubword,
    });
  }
  return out;
}

function aggregateWord(
  group: readonly PreEntity[],
  strategy: 'first' | 'max' | 'average',
  id2label: readonly string[],
): LabelledUnit {
  const first = group[0] as PreEntity;
  const last = group[group.length - 1] as PreEntity;
  let scores: number[];
  if (strategy === 'first') {
    scores = first.scores;
  } else if (strategy === 'max') {
    let best = first;
    for (const e of group) if (Math.max(...e.scores) > Math.max(...best.scores)) best = e;
    scores = best.scores;
  } else {
    scores = first.scores.map((_, k) => group.reduce((s, e) => s + (e.scores[k] ?? 0), 0) / group.length);
  }
  const idx = argmax(scores);
  return {
    label: id2label[idx] ?? 'O',
    score: scores[idx] ?? 0,
    start: first.start,
    end: last.end,
    tokens: group.map((e) => e.token),
  };
}

/** A case prior and the lines of the document it applies to (case-prior.ts casedLines). */
interface DocumentCasePrior {
  prior: CasePrior;
  lines: Array<[number, number]>;
}

/** The best valid BIO path of a window, steered by the case prior on the lines that carry case. */
function viterbiPath(
  text: string,
  pre: readonly PreEntity[],
  id2label: readonly string[],
  casePrior: DocumentCasePrior | undefined,
): number[] {
  const starts = pre.map((e) => e.start);
  const offsets = casePrior && casePriorOffsets(text, casePrior.lines, starts, id2label, casePrior.prior);
  return new BioViterbi(id2label).decode(
    pre.map((e) => e.scores),
    offsets,
  );
}

function toUnits(
  text: string,
  pre: readonly PreEntity[],
  strategy: AggregationStrategy,
  id2label: readonly string[],
  casePrior: DocumentCasePrior | undefined,
): LabelledUnit[] {
  if (strategy === 'simple' || strategy === 'viterbi') {
    const path = strategy === 'viterbi' ? viterbiPath(text, pre, id2label, casePrior) : undefined;
    return pre.map((e, i) => {
      const idx = path ? (path[i] ?? 0) : argmax(e.scores);
      return {
        label: id2label[idx] ?? 'O',
        score: e.scores[idx] ?? 0,
        start: e.start,
        end: e.end,
        tokens: [e.token],
      };
    });
  }
  const words: LabelledUnit[] = [];
  let group: PreEntity[] = [];
  for (const e of pre) {
    if (group.length > 0 && !e.isSubword) {
      words.push(aggregateWord(group, strategy, id2label));
      group = [];
    }
    group.push(e);
  }
  if (group.length > 0) words.push(aggregateWord(group, strategy, id2label));
  return words;
}

/** Groups adjacent units of one type (a B- label starts a new group); O groups are dropped. */
export function groupEntities(units: readonly LabelledUnit[]): RawEntity[] {
  const groups: RawEntity[] = [];
  let current: LabelledUnit[] = [];
  const flush = (): void => {
    const first = current[0];
    const last = current[current.length - 1];
    if (!first || !last) return;
    const type = parseBioLabel(first.label).type;
    if (type !== 'O') {
      groups.push({
        type,
        score: current.reduce((s, u) => s + u.score, 0) / current.length,
        start: first.start,
        end: last.end,
        tokens: current.flatMap((u) => u.tokens),
      });
    }
    current = [];
  };
  for (const unit of units) {
    if (current.length > 0) {
      const tag = parseBioLabel(unit.label);
      const lastTag = parseBioLabel((current[current.length - 1] as LabelledUnit).label);
      if (!(tag.type === lastTag.type && tag.prefix !== 'B')) flush();
    }
    current.push(unit);
  }
  flush();
  return groups;
}

/** Resolves entities of overlapping windows: of overlapping ones the longest, then the higher score wins. */
export function mergeOverlapping(entities: readonly RawEntity[]): RawEntity[] {
  if (entities.length === 0) return [];
  const sorted = [...entities].sort((a, b) => a.start - b.start);
  const out: RawEntity[] = [];
  let previous = sorted[0] as RawEntity;
  for (const entity of sorted) {
    if (previous.start <= entity.start && entity.start < previous.end) {
      const currentLength = entity.end - entity.start;
      const previousLength = previous.end - previous.start;
      if (
        currentLength > previousLength ||
        (currentLength === previousLength && entity.score > previous.score)
      )
        previous = entity;
    } else {
      out.push(previous);
      previous = entity;
    }
  }
  out.push(previous);
  return out;
}

export interface WindowLogits {
  window: TokenWindow;
  /** [seq, numLabels] logits of this window (row-major), starting at `offset` of `data`. */
  data: ArrayLike<number>;
  offset: number;
}

/**
 * Entities of one document from its windows' logits. A case prior (the model's case-prior.json)
 * steers the `viterbi` path only; the other strategies ignore it.
 */
export function decodeEntities(
  text: string,
  windows: readonly WindowLogits[],
  id2label: readonly string[],
  vocab: NerVocabulary,
  strategy: AggregationStrategy,
  casePrior?: CasePrior,
): RawEntity[] {
  const lines = casePrior && strategy === 'viterbi' ? casedLines(text) : [];
  const prior = casePrior && lines.length > 0 ? { prior: casePrior, lines } : undefined;
  const all: RawEntity[] = [];
  for (const w of windows) {
    const pre = gatherPreEntities(text, w.window, w.data, w.offset, id2label.length, vocab);
    all.push(...groupEntities(toUnits(text, pre, strategy, id2label, prior)));
  }
  return windows.length > 1 ? mergeOverlapping(all) : all;
}

/** Trailing punctuation that is not part of a name for grouping ("Apple Inc." → "apple inc"). */
const EDGE_PUNCTUATION = /^[\s"'“”‘’«»()[\]{}.,;:!?]+|[\s"'“”‘’«»()[\]{}.,;:!?]+$/gu;

/** Group key of an entity: NFKC, case-folded, whitespace collapsed, surrounding punctuation trimmed. */
export function normalizeEntityText(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').replace(EDGE_PUNCTUATION, '').trim();
}

export function toEntitySpan(text: string, raw: RawEntity): EntitySpan {
  const { start, end } = trimSymbols(text, raw.start, raw.end);
  const surface = text.slice(start, end);
  return {
    type: raw.type,
    text: surface,
    normalized: normalizeEntityText(surface),
    start,
    end,
    score: raw.score,
  };
}

/** Symbols and emoji at an entity's edges (`📈贵州茅台`): an <unk> piece to the model, never part of a name. */
function trimSymbols(text: string, start: number, end: number): { start: number; end: number } {
  const surface = text.slice(start, end);
  const lead = /^[\p{So}\p{Sk}\p{Cf}\s]+/u.exec(surface)?.[0].length ?? 0;
  const trail = /[\p{So}\p{Sk}\p{Cf}\s]+$/u.exec(surface)?.[0].length ?? 0;
  // a span of symbols only stays as it is (nothing left to name)
  if (lead + trail >= surface.length) return { start, end };
  return { start: start + lead, end: end - trail };
}
