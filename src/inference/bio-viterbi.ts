import { parseBioLabel, type BioTag } from './label-set.js';
import { argmax } from './sentiment.js';

/**
 * The most probable tag sequence that is valid BIO (docs/inference.md "NER aggregation"): `I-X` only
 * after `B-X` or `I-X`, never first. Arg-max per token can break an entity into pieces of different
 * types ("巴" B-PER, "利邦宁" I-ORG) that no reading of the text supports; the best *valid* sequence
 * keeps each entity whole, with the type its tokens support best together. The same constraint as
 * AllenNLP's `allowed_transitions` with its `viterbi_decode`, with no learned transition scores.
 * A type without a B- label in the set (IO tagging) may start with I-.
 */
export class BioViterbi {
  private readonly tags: BioTag[];
  /** allowed[previous][next]; previous = tags.length stands for the sequence start. */
  private readonly allowed: boolean[][];

  constructor(id2label: readonly string[]) {
    this.tags = id2label.map(parseBioLabel);
    const hasBegin = new Set(this.tags.filter((t) => t.prefix === 'B').map((t) => t.type));
    const start: BioTag = { prefix: 'O', type: 'O' };
    this.allowed = [...this.tags, start].map((previous) =>
      this.tags.map(
        (next) =>
          next.prefix !== 'I' ||
          !hasBegin.has(next.type) ||
          (previous.prefix !== 'O' && previous.type === next.type),
      ),
    );
  }

  /**
   * Label indexes of the best valid path; scores[t][k] is the probability of label k at token t and
   * prior[t][k], when given, a log-score added to it (the case prior, case-prior.ts).
   */
  decode(scores: ReadonlyArray<readonly number[]>, prior?: ReadonlyArray<readonly number[]>): number[] {
    const n = this.tags.length;
    if (scores.length === 0) return [];
    const back: Int32Array[] = [];
    let best = this.step(
      Array<number>(n + 1)
        .fill(-Infinity)
        .fill(0, n),
      n,
      scores[0] ?? [],
      prior?.[0],
      undefined,
    );
    for (let t = 1; t < scores.length; t++) {
      const pointers = new Int32Array(n);
      best = this.step([...best, -Infinity], n, scores[t] ?? [], prior?.[t], pointers);
      back.push(pointers);
    }
    let label = argmax(best);
    const path = [label];
    for (let t = back.length - 1; t >= 0; t--) {
      label = (back[t] as Int32Array)[label] ?? 0;
      path.push(label);
    }
    return path.reverse();
  }

  /** One token: for each label, the best total log-probability of a valid path ending in it. */
  private step(
    previous: readonly number[],
    n: number,
    probs: readonly number[],
    prior: readonly number[] | undefined,
    pointers?: Int32Array,
  ): number[] {
    const out = new Array<number>(n);
    for (let next = 0; next < n; next++) {
      let bestScore = -Infinity;
      let bestFrom = 0;
      for (let from = 0; from <= n; from++) {
        const score = previous[from] ?? -Infinity;
        if (score > bestScore && this.allowed[from]?.[next]) {
          bestScore = score;
          bestFrom = from;
        }
      }
      if (pointers) pointers[next] = bestFrom;
      out[next] = bestScore + Math.log(probs[next] ?? 0) + (prior?.[next] ?? 0);
    }
    return out;
  }
}
