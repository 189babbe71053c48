import { SENTIMENT_LABELS, type SentimentLabel } from '../domain/enrichment.js';

/** Thrown when a model's label set cannot be interpreted for its task. */
export class LabelSetError extends Error {
  override name = 'LabelSetError';
}

/** Model label spellings that mean a canonical sentiment label (matched case-insensitively). */
const SENTIMENT_SYNONYMS: Record<string, SentimentLabel> = {
  negative: 'negative',
  neg: 'negative',
  bearish: 'negative',
  neutral: 'neutral',
  neu: 'neutral',
  positive: 'positive',
  pos: 'positive',
  bullish: 'positive',
};

/**
 * For each model output index, the canonical sentiment label it stands for. A configured labelMap
 * wins over the built-in synonyms. Two-class (negative/positive) models are allowed: neutral then
 * has probability 0. Every canonical label may appear at most once.
 */
export function sentimentIndexMap(
  id2label: readonly string[],
  labelMap?: Readonly<Record<string, SentimentLabel>>,
): SentimentLabel[] {
  const mapped = id2label.map((raw) => {
    const canonical = labelMap?.[raw] ?? SENTIMENT_SYNONYMS[raw.toLowerCase()];
    if (!canonical) {
      throw new LabelSetError(
        `unknown sentiment label "${raw}" (labels: ${id2label.join(', ')}); map it with models.sentiment.labelMap ` +
          `to one of ${SENTIMENT_LABELS.join('/')}`,
      );
    }
    return canonical;
  });
  const seen = new Set(mapped);
  if (seen.size !== mapped.length)
    throw new LabelSetError(`labels ${id2label.join(', ')} map to a canonical label twice`);
  if (!seen.has('negative') || !seen.has('positive')) {
    throw new LabelSetError(`sentiment labels ${id2label.join(', ')} must include negative and positive`);
  }
  return mapped;
}

export interface BioTag {
  /** 'B', 'I' or 'O'. */
  prefix: 'B' | 'I' | 'O';
  /** Entity type without prefix; 'O' for outside. */
  type: string;
}

/** Parses a BIO / IOB2 label such as B-ORG, I-PER, O. Labels without prefix count as I- (as HF does). */
export function parseBioLabel(label: string): BioTag {
  if (label === 'O') return { prefix: 'O', type: 'O' };
  if (label.startsWith('B-')) return { prefix: 'B', type: label.slice(2) };
  if (label.startsWith('I-')) return { prefix: 'I', type: label.slice(2) };
  return { prefix: 'I', type: label };
}

/** Validates an NER label set: an `O` label and at least one B-/I- typed label. */
export function validateNerLabels(id2label: readonly string[]): void {
  if (!id2label.includes('O'))
    throw new LabelSetError(`NER labels ${id2label.join(', ')} have no "O" (outside) label`);
  const typed = id2label.filter((l) => l.startsWith('B-') || l.startsWith('I-'));
  if (typed.length === 0)
    throw new LabelSetError(`NER labels ${id2label.join(', ')} contain no B-/I- entity labels`);
}
