import { parseBioLabel } from './label-set.js';
import { ModelLoadError, readOptionalModelJson } from './model.js';

/**
 * A case prior for an uncased NER model (docs/inference.md "Case prior"). An uncased encoder sees
 * "apple" in "Apple said" and in "an apple a day" alike, so it loses the strongest cue a cased model
 * has for a name. The prior adds it back at decoding time: where the writer uses capitals for names,
 * a word that starts with a capital (not at a sentence start) gets `upper` nats towards the entity
 * labels and a word that starts with a small letter gets `lower` nats away from them, in the Viterbi
 * decoder's scores only (an entity's reported score stays the model's probability). Two numbers,
 * fitted per model on CoNLL-2003 testa by training/fit_case_prior.py and stored beside the model.
 *
 * A line that carries no case signal gets no prior (`carriesCase`): all small letters (chat), all
 * capitals, Title Case headlines, scripts without case (Chinese).
 */
export interface CasePrior {
  /** Nats added to every entity label at a capitalised word start that is not a sentence start. */
  upper: number;
  /** Nats taken from every entity label at a word start in small letters. */
  lower: number;
}

/** File a token-classification model directory may carry; written by training/fit_case_prior.py. */
export const CASE_PRIOR_FILE = 'case-prior.json';

/** Above this share of capitalised words (after sentence starts) a text is Title Case: no signal. */
export const TITLE_CASE_SHARE = 0.6;

/** The model directory's case prior, or undefined when it has none. A present but bad file is a load error. */
export function readCasePrior(dir: string): CasePrior | undefined {
  const file = readOptionalModelJson(dir, CASE_PRIOR_FILE);
  if (!file) return undefined;
  const { path, parsed } = file;
  const prior = (parsed as { casePrior?: Partial<CasePrior> } | null)?.casePrior;
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (!prior || !ok(prior.upper) || !ok(prior.lower))
    throw new ModelLoadError(`${path}: casePrior needs upper and lower, finite numbers ≥ 0`);
  return { upper: prior.upper, lower: prior.lower };
}

type Case = 'upper' | 'lower' | 'none';

/** The case of a word's first character; 'none' for digits, punctuation and caseless scripts. */
function caseOf(char: string): Case {
  if (char.toUpperCase() === char.toLowerCase()) return 'none';
  return char === char.toUpperCase() ? 'upper' : 'lower';
}

/** A sentence starts at the text's start or after . ! ? 。 or a line break (quotes and brackets skipped). */
export function isSentenceStart(text: string, start: number): boolean {
  let i = start - 1;
  while (i >= 0 && /[\s"'“”‘’«»([{]/u.test(text[i] ?? '')) {
    if (text[i] === '\n') return true;
    i--;
  }
  return i < 0 || /[.!?。！？]/u.test(text[i] ?? '');
}

/** Start offsets of the whitespace-separated words of text[from, to). */
function wordStarts(text: string, from = 0, to = text.length): number[] {
  const starts: number[] = [];
  for (const m of text.slice(from, to).matchAll(/\S+/gu)) starts.push(from + m.index);
  return starts;
}

/**
 * Whether text[from, to) uses capitals for names: among words that start with a cased letter and
 * not a sentence, some but at most TITLE_CASE_SHARE start with a capital.
 */
export function carriesCase(text: string, from = 0, to = text.length): boolean {
  let cased = 0;
  let upper = 0;
  for (const start of wordStarts(text, from, to)) {
    const c = caseOf(text[start] ?? '');
    if (c === 'none' || isSentenceStart(text, start)) continue;
    cased++;
    if (c === 'upper') upper++;
  }
  return upper > 0 && upper / cased <= TITLE_CASE_SHARE;
}

/**
 * The lines of `text` that carry case, as [start, end) offsets: judged line by line, so that a Title
 * Case headline above a body in prose gets no prior while its body does.
 */
export function casedLines(text: string): Array<[number, number]> {
  const lines: Array<[number, number]> = [];
  let from = 0;
  for (const line of text.split('\n')) {
    const to = from + line.length;
    if (carriesCase(text, from, to)) lines.push([from, to]);
    from = to + 1;
  }
  return lines;
}

/**
 * Per token (by its start offset, ascending), the log-score offsets of each label; 0 outside the
 * `cased` lines (casedLines). At a word start (the text's start or after whitespace), +upper on entity
 * labels for a capital not at a sentence start, −lower for a small letter; 0 everywhere else.
 */
export function casePriorOffsets(
  text: string,
  cased: ReadonlyArray<readonly [number, number]>,
  tokenStarts: readonly number[],
  id2label: readonly string[],
  prior: CasePrior,
): number[][] {
  const entity = id2label.map((l) => parseBioLabel(l).prefix !== 'O');
  let line = 0;
  return tokenStarts.map((start) => {
    while (line < cased.length && cased[line]![1] <= start) line++;
    const inCased = line < cased.length && cased[line]![0] <= start;
    const wordStart = start === 0 || /\s/u.test(text[start - 1] ?? '');
    const c = inCased && wordStart ? caseOf(text[start] ?? '') : 'none';
    const shift =
      c === 'upper' && !isSentenceStart(text, start) ? prior.upper : c === 'lower' ? -prior.lower : 0;
    return entity.map((isEntity) => (isEntity ? shift : 0));
  });
}
