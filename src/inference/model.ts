import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { ModelInfo } from '../domain/enrichment.js';

export type ModelTask = ModelInfo['task'];
/** What a model directory holds: one task, or a joint model with a head per task (one encoder pass). */
export type ModelKind = ModelTask | 'joint';

/** One output of the graph: the task it answers, its ONNX output name and its labels. */
export interface HeadSpec {
  task: ModelTask;
  /** ONNX output name; undefined = the session's default (`logits`, else the first output). */
  output: string | undefined;
  /** Output index → label as written in config.json. */
  id2label: string[];
}

/** Thrown for a model directory that cannot be used; the message names the file and the problem. */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

/**
 * An optional JSON file of a model directory (calibration.json, case-prior.json): undefined when it
 * is absent; a file that is present but not valid JSON is a load error, not a silent fallback.
 */
export function readOptionalModelJson(
  dir: string,
  file: string,
): { path: string; parsed: unknown } | undefined {
  const path = join(dir, file);
  if (!existsSync(path)) return undefined;
  try {
    return { path, parsed: JSON.parse(readFileSync(path, 'utf8')) as unknown };
  } catch (err) {
    throw new ModelLoadError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

/** What a model directory (Hugging Face / Optimum export layout) says about itself. */
export interface ModelSpec {
  dir: string;
  task: ModelKind;
  /** Model output index → label as written in config.json (a joint model: its sentiment head's). */
  id2label: string[];
  /** The graph outputs the engine reads: one for a single-task model, sentiment then NER for a joint one. */
  heads: HeadSpec[];
  /** Languages the model was trained to read (config `finsentry_languages`), when it says so. */
  languages: string[] | undefined;
  onnxPath: string;
  tokenizerPath: string;
  name: string;
  version: string;
  sha256: string;
  /** Token id used for padding (config pad_token_id, else 0). */
  padTokenId: number;
  /** Largest sequence the model accepts (config max_position_embeddings), if stated. */
  maxPositions: number | undefined;
  config: Record<string, unknown>;
}

/** ONNX file names looked up in order; Optimum puts exports either at the top or under onnx/. */
export const ONNX_CANDIDATES = [
  'model.onnx',
  'model_quantized.onnx',
  'onnx/model.onnx',
  'onnx/model_quantized.onnx',
];

export function findOnnxFile(dir: string): string | undefined {
  for (const candidate of ONNX_CANDIDATES) {
    const path = join(dir, candidate);
    if (existsSync(path)) return path;
  }
  return undefined;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Task from config.json: an explicit `finsentry_task` (`joint`: a sentence head and a token head on
 * one encoder, docs/inference.md "Joint models"), else the architecture name
 * (…ForSequenceClassification → sentiment, …ForTokenClassification → ner).
 */
export function detectTask(config: Record<string, unknown>): ModelKind | undefined {
  const explicit = config['finsentry_task'];
  if (typeof explicit === 'string') {
    if (explicit === 'joint') return 'joint';
    // also the Hugging Face pipeline task names
    if (
      ['sentiment', 'sentiment-analysis', 'text-classification', 'sequence-classification'].includes(explicit)
    )
      return 'sentiment';
    if (['ner', 'token-classification'].includes(explicit)) return 'ner';
  }
  const architectures = Array.isArray(config['architectures']) ? (config['architectures'] as unknown[]) : [];
  for (const arch of architectures) {
    if (typeof arch !== 'string') continue;
    if (arch.endsWith('ForSequenceClassification')) return 'sentiment';
    if (arch.endsWith('ForTokenClassification')) return 'ner';
  }
  return undefined;
}

/** id2label (or another label map of config.json, `key`) as a dense array; keys must be 0..n-1. */
export function readId2Label(
  config: Record<string, unknown>,
  configPath: string,
  key = 'id2label',
): string[] {
  const raw = config[key];
  if (!raw || typeof raw !== 'object') throw new ModelLoadError(`${configPath}: no ${key} object`);
  const entries = Object.entries(raw as Record<string, unknown>);
  const labels: string[] = new Array<string>(entries.length);
  for (const [label, value] of entries) {
    const index = Number(label);
    if (!Number.isInteger(index) || index < 0 || index >= entries.length || typeof value !== 'string') {
      throw new ModelLoadError(
        `${configPath}: ${key} must map 0..${entries.length - 1} to label strings (bad key "${index}")`,
      );
    }
    labels[index] = value;
  }
  if (labels.length < 2) throw new ModelLoadError(`${configPath}: ${key} has fewer than 2 labels`);
  return labels;
}

/**
 * A joint model's heads: `finsentry_outputs` names the ONNX output of each task, `sentiment_id2label`
 * and `ner_id2label` their labels (training/ writes them; docs/inference.md "Joint models").
 */
function jointHeads(config: Record<string, unknown>, configPath: string): HeadSpec[] {
  const outputs = config['finsentry_outputs'] as Record<string, unknown> | undefined;
  return (['sentiment', 'ner'] as const).map((task) => {
    const output = outputs?.[task];
    if (typeof output !== 'string' || output === '')
      throw new ModelLoadError(
        `${configPath}: a joint model needs finsentry_outputs.${task} (the ONNX output name)`,
      );
    return { task, output, id2label: readId2Label(config, configPath, `${task}_id2label`) };
  });
}

function readLanguages(config: Record<string, unknown>, configPath: string): string[] | undefined {
  const raw = config['finsentry_languages'];
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.some((l) => typeof l !== 'string'))
    throw new ModelLoadError(`${configPath}: finsentry_languages must be a list of language codes`);
  return raw as string[];
}

/** Reads and validates a model directory without loading the ONNX graph. */
export async function readModelSpec(dirArg: string, expectedTask?: ModelKind): Promise<ModelSpec> {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ModelLoadError(`model directory ${dir} does not exist`);
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) {
    throw new ModelLoadError(`${dir} is not a Hugging Face model directory: config.json is missing`);
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ModelLoadError(`${configPath}: not valid JSON (${(err as Error).message})`);
  }
  const tokenizerPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerPath)) {
    throw new ModelLoadError(
      `${dir}: tokenizer.json is missing (export the fast tokenizer with save_pretrained)`,
    );
  }
  const onnxPath = findOnnxFile(dir);
  if (!onnxPath) throw new ModelLoadError(`${dir}: no ONNX file (looked for ${ONNX_CANDIDATES.join(', ')})`);
  const task = detectTask(config);
  if (!task) {
    throw new ModelLoadError(
      `${configPath}: cannot tell the task; architectures should end in ForSequenceClassification or ` +
        `ForTokenClassification, or set "finsentry_task"`,
    );
  }
  if (expectedTask && task !== expectedTask) {
    throw new ModelLoadError(`${dir} is a ${task} model but is configured as the ${expectedTask} model`);
  }
  const heads =
    task === 'joint'
      ? jointHeads(config, configPath)
      : [{ task, output: undefined, id2label: readId2Label(config, configPath) }];
  const id2label = heads[0]!.id2label;
  const nameOrPath =
    typeof config['_name_or_path'] === 'string' && config['_name_or_path'] ? config['_name_or_path'] : '';
  const name =
    typeof config['finsentry_name'] === 'string'
      ? config['finsentry_name']
      : nameOrPath
        ? basename(nameOrPath)
        : basename(dir);
  const version =
    typeof config['finsentry_version'] === 'string'
      ? config['finsentry_version']
      : typeof config['transformers_version'] === 'string'
        ? `transformers-${config['transformers_version']}`
        : 'unversioned';
  const pad = config['pad_token_id'];
  const maxPos = config['max_position_embeddings'];
  return {
    dir,
    task,
    id2label,
    heads,
    languages: readLanguages(config, configPath),
    onnxPath,
    tokenizerPath,
    name,
    version,
    sha256: await sha256File(onnxPath),
    padTokenId: typeof pad === 'number' ? pad : 0,
    maxPositions: typeof maxPos === 'number' ? maxPos : undefined,
    config,
  };
}

/** Which model produced what: one entry per head (a joint model answers for sentiment and NER). */
export function modelInfos(spec: ModelSpec): ModelInfo[] {
  return spec.heads.map((h) => ({
    task: h.task,
    name: spec.name,
    version: spec.version,
    sha256: spec.sha256,
  }));
}
