import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBioLabel } from './label-set.js';
import { ModelLoadError } from './model.js';

/**
 * A case prior for an uncased NER model (docs/inference.md "Case prior"). An uncased encoder sees
 * "apple" in "Apple said" and in "an apple a day" alike, so it loses the strongest cue a cased model
 * has for a name. The prior adds it back at decoding time: where the writer uses capitals for names,
 * a word that starts with a capital (not at a sentence start) gets `upper` nats towards the entity
 * labels and a word that starts with a small letter gets `lower` nats away from them, in the Viterbi
 * decoder's scores only (an entity's reported score stays the model's probability). Two numbers,
 * fitted per model on CoNLL-2003 testa by training/fit_case_prior.py and stored beside the model.
 *
 * Text that carries no case signal gets no prior (`carriesCase`): all small letters (chat), all
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
  const path = join(dir, CASE_PRIOR_FILE);
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(`${path}: not valid JSON (${(err as Error).message})`);
  }
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

/** Start offsets of the whitespace-separated words of `text`. */
function wordStarts(text: string): number[] {
  const starts: number[] = [];
  for (const m of text.matchAll(/\S+/gu)) starts.push(m.index);
  return starts;
}

/**
 * Whether the text uses capitals for names: among words that start with a cased letter and not a
 * sentence, some but at most TITLE_CASE_SHARE start with a capital.
 */
export function carriesCase(text: string): boolean {
  let cased = 0;
  let upper = 0;
  for (const start of wordStarts(text)) {
    const c = caseOf(text[start] ?? '');
    if (c === 'none' || isSentenceStart(text, start)) continue;
    cased++;
    if (c === 'upper') upper++;
  }
  return upper > 0 && upper / cased <= TITLE_CASE_SHARE;
}

/**
 * Per token (by its start offset), the log-score offsets of each label, or null when the prior does
 * not apply to the text: at a word start (the text's start or after whitespace), +upper on entity
 * labels for a capital not at a sentence start, −lower for a small letter; 0 everywhere else.
 */
export function casePriorOffsets(
  text: string,
  tokenStarts: readonly number[],
  id2label: readonly string[],
  prior: CasePrior,
): number[][] | null {
  if (!carriesCase(text)) return null;
  const entity = id2label.map((l) => parseBioLabel(l).prefix !== 'O');
  return tokenStarts.map((start) => {
    const wordStart = start === 0 || /\s/u.test(text[start - 1] ?? '');
    const c = wordStart ? caseOf(text[start] ?? '') : 'none';
    const shift =
      c === 'upper' && !isSentenceStart(text, start) ? prior.upper : c === 'lower' ? -prior.lower : 0;
    return entity.map((isEntity) => (isEntity ? shift : 0));
  });
}
