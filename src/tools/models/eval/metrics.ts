/**
 * Evaluation metrics as pure functions. Classification follows scikit-learn (precision/recall with
 * zero_division=0, macro-F1 = unweighted mean of per-class F1 over the given labels); span-level NER
 * follows seqeval's default (conlleval, non-strict) chunking and micro-averaged P/R/F1.
 */

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  labels: string[];
  accuracy: number;
  macroF1: number;
  perClass: Record<string, ClassScores>;
  /** confusion[i][j] = documents of true label i predicted as label j (in `labels` order). */
  confusion: number[][];
  n: number;
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
const f1Of = (p: number, r: number): number => (p + r === 0 ? 0 : (2 * p * r) / (p + r));

export function classificationReport(
  yTrue: readonly string[],
  yPred: readonly string[],
  labels: readonly string[],
): ClassificationReport {
  if (yTrue.length !== yPred.length)
    throw new Error(`${yTrue.length} true labels but ${yPred.length} predictions`);
  const index = new Map(labels.map((l, i) => [l, i]));
  const confusion = labels.map(() => labels.map(() => 0));
  let correct = 0;
  yTrue.forEach((t, k) => {
    const i = index.get(t);
    const j = index.get(yPred[k] ?? '');
    if (i === undefined) throw new Error(`unknown true label "${t}"`);
    if (j === undefined) throw new Error(`unknown predicted label "${yPred[k]}"`);
    (confusion[i] as number[])[j] = ((confusion[i] as number[])[j] ?? 0) + 1;
    if (i === j) correct++;
  });
  const perClass: Record<string, ClassScores> = {};
  labels.forEach((label, i) => {
    const tp = confusion[i]?.[i] ?? 0;
    const predicted = confusion.reduce((s, row) => s + (row[i] ?? 0), 0);
    const support = (confusion[i] ?? []).reduce((s, v) => s + v, 0);
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    perClass[label] = { precision, recall, f1: f1Of(precision, recall), support };
  });
  const macroF1 = labels.reduce((s, l) => s + (perClass[l]?.f1 ?? 0), 0) / labels.length;
  return {
    labels: [...labels],
    accuracy: ratio(correct, yTrue.length),
    macroF1,
    perClass,
    confusion,
    n: yTrue.length,
  };
}

/** IOB1 → IOB2: an I-X starts an entity unless it continues one of type X. */
export function iob1ToIob2(tags: readonly string[]): string[] {
  const out: string[] = [];
  let prev = 'O';
  for (const tag of tags) {
    if (tag === 'O' || tag.startsWith('B-') || !tag.includes('-')) out.push(tag);
    else {
      const type = tag.slice(2);
      const prevType = prev === 'O' ? undefined : prev.slice(2);
      out.push(`${prevType === type ? 'I' : 'B'}-${type}`);
    }
    prev = out[out.length - 1] ?? 'O';
  }
  return out;
}

export interface Span {
  type: string;
  /** Inclusive token indices, as seqeval reports them. */
  start: number;
  end: number;
}

function splitTag(chunk: string): [string, string] {
  const tag = chunk[0] ?? 'O';
  const rest = chunk.slice(1);
  const parts = rest.split('-');
  const type = (rest.includes('-') ? rest.slice(rest.indexOf('-') + 1) : parts[0]) || '_';
  return [tag, type];
}

function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (prevTag === 'E' || prevTag === 'S') return true;
  if ((prevTag === 'B' || prevTag === 'I') && (tag === 'B' || tag === 'S' || tag === 'O')) return true;
  return prevTag !== 'O' && prevTag !== '.' && prevType !== type;
}

function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (tag === 'B' || tag === 'S') return true;
  if ((prevTag === 'E' || prevTag === 'S' || prevTag === 'O') && (tag === 'E' || tag === 'I')) return true;
  return tag !== 'O' && tag !== '.' && prevType !== type;
}

/** seqeval.metrics.sequence_labeling.get_entities (default mode) for one tag sequence. */
export function getEntities(tags: readonly string[]): Span[] {
  const spans: Span[] = [];
  let prevTag = 'O';
  let prevType = '';
  let begin = 0;
  [...tags, 'O'].forEach((chunk, i) => {
    const [tag, type] = splitTag(chunk);
    if (endOfChunk(prevTag, tag, prevType, type)) spans.push({ type: prevType, start: begin, end: i - 1 });
    if (startOfChunk(prevTag, tag, prevType, type)) begin = i;
    prevTag = tag;
    prevType = type;
  });
  return spans;
}

export interface SpanReport {
  perType: Record<string, ClassScores>;
  micro: { precision: number; recall: number; f1: number; support: number };
  macroF1: number;
}

/** Span-level P/R/F1 per type over sentences (seqeval classification_report semantics). */
export function spanReport(
  trueSentences: readonly string[][],
  predSentences: readonly string[][],
): SpanReport {
  if (trueSentences.length !== predSentences.length) throw new Error('different numbers of sentences');
  const key = (s: number, span: Span) => `${s}\u0000${span.type}\u0000${span.start}\u0000${span.end}`;
  const trueSpans = new Map<string, string>();
  const predSpans = new Map<string, string>();
  trueSentences.forEach((tags, s) =>
    getEntities(tags).forEach((span) => trueSpans.set(key(s, span), span.type)),
  );
  predSentences.forEach((tags, s) =>
    getEntities(tags).forEach((span) => predSpans.set(key(s, span), span.type)),
  );
  return keyedSpanReport(trueSpans, predSpans);
}

/** P/R/F1 per type of spans keyed by where they are (key → type); exact match of keys counts. */
export function keyedSpanReport(
  trueSpans: ReadonlyMap<string, string>,
  predSpans: ReadonlyMap<string, string>,
): SpanReport {
  const types = [...new Set([...trueSpans.values(), ...predSpans.values()])].sort();
  const perType: Record<string, ClassScores> = {};
  let tpAll = 0;
  for (const type of types) {
    let tp = 0;
    let nTrue = 0;
    let nPred = 0;
    for (const [k, t] of trueSpans)
      if (t === type) {
        nTrue++;
        if (predSpans.has(k)) tp++;
      }
    for (const t of predSpans.values()) if (t === type) nPred++;
    tpAll += tp;
    const precision = ratio(tp, nPred);
    const recall = ratio(tp, nTrue);
    perType[type] = { precision, recall, f1: f1Of(precision, recall), support: nTrue };
  }
  const precision = ratio(tpAll, predSpans.size);
  const recall = ratio(tpAll, trueSpans.size);
  const typesWithSupport = types.filter((t) => (perType[t]?.support ?? 0) > 0);
  return {
    perType,
    micro: { precision, recall, f1: f1Of(precision, recall), support: trueSpans.size },
    macroF1:
      typesWithSupport.reduce((s, t) => s + (perType[t]?.f1 ?? 0), 0) / Math.max(1, typesWithSupport.length),
  };
}
