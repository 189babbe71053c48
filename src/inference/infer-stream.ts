import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type {
  DocumentLanguage,
  EnrichRequest,
  EntitySpan,
  ModelInfo,
  SentimentResult,
  UnscoredReason,
} from '../domain/enrichment.js';

/** One output line of `finsentry infer`: the inference part of an enriched record. */
export interface InferRecord {
  id: string;
  sentiment?: SentimentResult;
  entities?: EntitySpan[];
  models: ModelInfo[];
  /** The language the document was routed by (models.languages). */
  language?: DocumentLanguage;
  /** Why there is no sentiment (a language no configured model reads). */
  unscored?: UnscoredReason;
}

export type InferFn = (requests: EnrichRequest[]) => Promise<InferRecord[]>;

export interface StreamOptions {
  /** Documents per enrich call. */
  chunkSize: number;
  /** enrich calls in flight; with chunkSize this bounds memory. */
  maxPendingChunks: number;
}

export interface StreamSummary {
  documents: number;
  skippedLines: number;
}

/**
 * A line of input: JSON `{"id": …, "text": …, "language"?: …}` or plain text (id = line number). Blank lines
 * are skipped; a JSON object without a string `text` is an error naming the line.
 */
export function parseInputLine(line: string, lineNumber: number): EnrichRequest | undefined {
  const trimmed = line.trim();
  if (trimmed === '') return undefined;
  if (trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw new Error(`line ${lineNumber}: invalid JSON (${(err as Error).message})`, { cause: err });
    }
    const obj = value as { id?: unknown; text?: unknown; language?: unknown };
    if (typeof obj.text !== 'string') throw new Error(`line ${lineNumber}: JSON object has no string "text"`);
    const id = typeof obj.id === 'string' || typeof obj.id === 'number' ? String(obj.id) : String(lineNumber);
    return typeof obj.language === 'string'
      ? { id, text: obj.text, language: obj.language }
      : { id, text: obj.text };
  }
  return { id: String(lineNumber), text: line };
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', resolve));
}

/**
 * Streams input lines through `infer` and writes one JSON line per document, in input order.
 * Memory is bounded: readline's async iterator pauses the input while at most
 * chunkSize × maxPendingChunks documents are in flight, and stdout backpressure is honoured.
 */
export async function inferStream(
  input: Readable,
  output: Writable,
  infer: InferFn,
  options: StreamOptions,
): Promise<StreamSummary> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  const pending: Array<Promise<InferRecord[]>> = [];
  let chunk: EnrichRequest[] = [];
  let lineNumber = 0;
  let documents = 0;
  let skippedLines = 0;
  const flushOldest = async (): Promise<void> => {
    const records = await pending.shift();
    if (!records) return;
    let text = '';
    for (const r of records) text += `${JSON.stringify(r)}\n`;
    await write(output, text);
  };
  const launch = (): void => {
    const requests = chunk;
    chunk = [];
    const p = infer(requests);
    p.catch(() => undefined); // surfaced when awaited in order
    pending.push(p);
  };
  for await (const line of rl) {
    lineNumber++;
    const request = parseInputLine(line, lineNumber);
    if (!request) {
      skippedLines++;
      continue;
    }
    chunk.push(request);
    documents++;
    if (chunk.length >= options.chunkSize) {
      launch();
      while (pending.length >= options.maxPendingChunks) await flushOldest();
    }
  }
  if (chunk.length > 0) launch();
  while (pending.length > 0) await flushOldest();
  return { documents, skippedLines };
}
