import { readFileSync } from 'node:fs';
import { Tokenizer, type Encoding } from 'tokenizers';

/** One model input: at most maxLength tokens including the special tokens of the tokenizer's template. */
export interface TokenWindow {
  ids: number[];
  typeIds: number[];
  /** Per token [start, end) in UTF-16 code units of the original text; [0, 0] for special tokens. */
  offsets: Array<[number, number]>;
  /** 1 for special tokens ([CLS], [SEP], …). */
  specialMask: number[];
  /** Index of the first content token of this window in the whole document's content tokens. */
  contentStart: number;
  /** Content (non-special) tokens in this window. */
  realTokens: number;
}

export interface EncodedDocument {
  windows: TokenWindow[];
  /** Content tokens of the whole text (overlaps not double-counted, special tokens excluded). */
  tokens: number;
  unknownTokens: number;
  /** True when the text needed more than maxWindows windows and its tail was not covered. */
  truncated: boolean;
}

export interface WindowingOptions {
  /** Tokens per window including special tokens. */
  maxLength: number;
  /** Tokens shared by consecutive windows. */
  stride: number;
  maxWindows: number;
}

/**
 * Maps code-point offsets (what the Rust tokenizers report, in Python and in the Node binding alike)
 * to UTF-16 indices (what JavaScript strings use). Identity unless the text has astral characters.
 */
export function codePointToUtf16Map(text: string): Int32Array | undefined {
  if (!/[\uD800-\uDFFF]/.test(text)) return undefined;
  const map: number[] = [];
  let utf16 = 0;
  for (const ch of text) {
    map.push(utf16);
    utf16 += ch.length;
  }
  map.push(utf16);
  return Int32Array.from(map);
}

/**
 * Splits a token sequence of `contentLength` tokens into windows of `body` content tokens that
 * overlap by `stride`. Returns window start positions; the last window ends at the content end.
 */
export function windowStarts(contentLength: number, body: number, stride: number): number[] {
  if (contentLength <= body) return [0];
  const step = body - stride;
  if (step <= 0) throw new Error(`stride ${stride} must be smaller than the window body ${body}`);
  const starts: number[] = [];
  for (let start = 0; ; start += step) {
    starts.push(start);
    if (start + body >= contentLength) break;
  }
  return starts;
}

/**
 * Tokenizer of one model with long-text windowing. Tokenization itself is the Hugging Face Rust
 * tokenizer (exact parity with Python). Windowing is done here rather than with the tokenizer's own
 * truncation+overflow because in tokenizers 0.23 (Python and Node alike) overflow only yields the
 * pieces of the first maxLength tokens, not the whole text; the special tokens of each window are
 * the ones the tokenizer's post-processor put around the full encoding.
 */
export class DocumentTokenizer {
  readonly unkId: number | undefined;

  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly options: WindowingOptions,
    /** Continuing-subword prefix of the model ("##" for WordPiece), as the HF NER pipeline checks it. */
    readonly continuingSubwordPrefix: string | undefined,
  ) {
    tokenizer.disableTruncation();
    tokenizer.disablePadding();
    const unk = tokenizer.tokenToId('[UNK]') ?? tokenizer.tokenToId('<unk>');
    this.unkId = unk ?? undefined;
  }

  static fromFile(path: string, options: WindowingOptions): DocumentTokenizer {
    if (options.stride >= options.maxLength - 2) {
      throw new Error(
        `stride ${options.stride} must be smaller than maxLength - 2 (${options.maxLength - 2})`,
      );
    }
    const json = JSON.parse(readFileSync(path, 'utf8')) as {
      model?: { continuing_subword_prefix?: string | null };
    };
    const prefix = json.model?.continuing_subword_prefix ?? undefined;
    return new DocumentTokenizer(Tokenizer.fromFile(path), options, prefix || undefined);
  }

  idToToken(id: number): string {
    return this.tokenizer.idToToken(id) ?? '';
  }

  /** Joins tokens to text with the tokenizer's decoder (what HF's convert_tokens_to_string does). */
  decodeTokens(tokens: string[]): string {
    const decoder = this.tokenizer.getDecoder();
    return decoder ? decoder.decode(tokens) : tokens.join(' ');
  }

  /** The raw HF encodings (no truncation, no padding), e.g. for parity checks. */
  encodeRaw(texts: string[]): Promise<Encoding[]> {
    return this.tokenizer.encodeBatch(texts);
  }

  async encode(texts: string[]): Promise<EncodedDocument[]> {
    if (texts.length === 0) return [];
    const encodings = await this.tokenizer.encodeBatch(texts);
    return encodings.map((enc, i) => this.toDocument(enc, texts[i] ?? ''));
  }

  private toDocument(enc: Encoding, text: string): EncodedDocument {
    const ids = enc.getIds();
    const typeIds = enc.getTypeIds();
    const special = enc.getSpecialTokensMask();
    const rawOffsets = enc.getOffsets();
    const n = ids.length;
    let lead = 0;
    while (lead < n && special[lead] === 1) lead++;
    let trail = 0;
    while (trail < n - lead && special[n - 1 - trail] === 1) trail++;
    const contentLength = n - lead - trail;
    const body = this.options.maxLength - lead - trail;

    const map = codePointToUtf16Map(text);
    const offsets: Array<[number, number]> = rawOffsets.map((o) => {
      const s = o[0] ?? 0;
      const e = o[1] ?? 0;
      return map ? [map[s] ?? s, map[e] ?? e] : [s, e];
    });

    let unknownTokens = 0;
    if (this.unkId !== undefined) {
      for (let i = lead; i < n - trail; i++) if (ids[i] === this.unkId) unknownTokens++;
    }

    const allStarts = windowStarts(contentLength, body, this.options.stride);
    const truncated = allStarts.length > this.options.maxWindows;
    const starts = truncated ? allStarts.slice(0, this.options.maxWindows) : allStarts;
    const pick = <T>(arr: T[], start: number, end: number): T[] => [
      ...arr.slice(0, lead),
      ...arr.slice(lead + start, lead + end),
      ...arr.slice(n - trail),
    ];
    const windows = starts.map((start): TokenWindow => {
      const end = Math.min(start + body, contentLength);
      return {
        ids: pick(ids, start, end),
        typeIds: pick(typeIds, start, end),
        offsets: pick(offsets, start, end),
        specialMask: pick(special, start, end),
        contentStart: start,
        realTokens: end - start,
      };
    });
    return { windows, tokens: contentLength, unknownTokens, truncated };
  }
}
