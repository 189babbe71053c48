import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBertModel, type BertShape } from './bert.js';
import { encodeModel } from './onnx-proto.js';
import { buildWordPieceTokenizer } from './wordpiece.js';

export const SENTIMENT_SYNTH_LABELS = ['negative', 'neutral', 'positive'];
export const NER_SYNTH_LABELS = [
  'O',
  'B-PER',
  'I-PER',
  'B-ORG',
  'I-ORG',
  'B-LOC',
  'I-LOC',
  'B-MISC',
  'I-MISC',
];

export interface SynthOptions {
  task: 'sentiment' | 'ner';
  layers: number;
  hidden: number;
  heads: number;
  /** FFN size; default 4 × hidden as in BERT. */
  intermediate?: number;
  /** Copy tokenizer.json from this model directory (vocab size follows it). */
  vocabFrom?: string;
  /** Generate a WordPiece tokenizer with this many entries (default 2000 when no vocabFrom). */
  vocabSize?: number;
  maxPositions?: number;
  seed: number;
  out: string;
  /** Model name written to config.json (default finsentry-synth-<task>). */
  name?: string;
}

export interface SynthResult {
  dir: string;
  onnxPath: string;
  sha256: string;
  bytes: number;
  parameters: number;
}

const SYNTH_VERSION = '1';

/** Writes a seeded random BERT classifier in the Hugging Face / Optimum layout. */
export function synthesizeModel(options: SynthOptions): SynthResult {
  for (const key of ['layers', 'hidden', 'heads', 'seed'] as const) {
    if (!Number.isInteger(options[key]) || options[key] < (key === 'seed' || key === 'layers' ? 0 : 1)) {
      throw new Error(`synth: --${key} must be a non-negative integer`);
    }
  }
  mkdirSync(options.out, { recursive: true });
  const tokenizerPath = join(options.out, 'tokenizer.json');
  let vocabSize: number;
  if (options.vocabFrom) {
    const source = join(options.vocabFrom, 'tokenizer.json');
    if (!existsSync(source)) throw new Error(`synth: ${source} does not exist`);
    copyFileSync(source, tokenizerPath);
    const json = JSON.parse(readFileSync(source, 'utf8')) as {
      model?: { vocab?: Record<string, number> | unknown[] };
      added_tokens?: Array<{ id: number }>;
    };
    const vocab = json.model?.vocab;
    const ids = vocab ? (Array.isArray(vocab) ? vocab.map((_, i) => i) : Object.values(vocab)) : [];
    const added = (json.added_tokens ?? []).map((t) => t.id);
    vocabSize = Math.max(...ids, ...added) + 1;
  } else {
    vocabSize = options.vocabSize ?? 2000;
    writeFileSync(tokenizerPath, JSON.stringify(buildWordPieceTokenizer(vocabSize, options.seed), null, 1));
  }
  const labels = options.task === 'sentiment' ? SENTIMENT_SYNTH_LABELS : NER_SYNTH_LABELS;
  const shape: BertShape = {
    vocabSize,
    hidden: options.hidden,
    layers: options.layers,
    heads: options.heads,
    intermediate: options.intermediate ?? options.hidden * 4,
    maxPositions: options.maxPositions ?? 512,
    typeVocabSize: 2,
    numLabels: labels.length,
    task: options.task,
    pooler: options.task === 'sentiment',
  };
  const model = buildBertModel(shape, options.seed, SYNTH_VERSION);
  const parameters = model.graph.initializer.reduce((s, t) => s + t.rawData.byteLength / 4, 0);
  const bytes = encodeModel(model);
  const onnxPath = join(options.out, 'model.onnx');
  writeFileSync(onnxPath, bytes);
  const name = options.name ?? `finsentry-synth-${options.task}`;
  const architecture =
    options.task === 'sentiment' ? 'BertForSequenceClassification' : 'BertForTokenClassification';
  const config = {
    _name_or_path: name,
    architectures: [architecture],
    model_type: 'bert',
    finsentry_task: options.task,
    finsentry_version: `synth-v${SYNTH_VERSION}-seed${options.seed}`,
    hidden_size: shape.hidden,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    intermediate_size: shape.intermediate,
    hidden_act: 'gelu',
    max_position_embeddings: shape.maxPositions,
    type_vocab_size: shape.typeVocabSize,
    vocab_size: vocabSize,
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
  writeFileSync(join(options.out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(
    join(options.out, 'tokenizer_config.json'),
    `${JSON.stringify({ tokenizer_class: 'BertTokenizerFast', do_lower_case: true, model_max_length: shape.maxPositions }, null, 2)}\n`,
  );
  return {
    dir: options.out,
    onnxPath,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.byteLength,
    parameters,
  };
}
