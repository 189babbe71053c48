import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import os from 'node:os';
import { createRequire } from 'node:module';
import type { ModelSpec } from '../../inference/model.js';

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs the OS reports. */
  logicalCpus: number;
  /** CPUs this process may use (cgroup / affinity), from os.availableParallelism. */
  availableParallelism: number;
  memoryGiB: number;
  loadAverage1m: number;
  platform: string;
  node: string;
  onnxruntimeNode: string;
  transformersJs: string | null;
}

/** Version of an installed package: its package.json found above the resolved entry (some packages do not export package.json). */
function packageVersion(name: string): string | null {
  try {
    const require = createRequire(import.meta.url);
    let dir = dirname(require.resolve(name));
    for (;;) {
      const candidate = join(dir, 'package.json');
      if (existsSync(candidate)) {
        const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? null;
      }
      const parent = dirname(dir);
      if (parent === dir) return null;
      dir = parent;
    }
  } catch {
    return null;
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    logicalCpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    loadAverage1m: Number((os.loadavg()[0] ?? 0).toFixed(2)),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    onnxruntimeNode: packageVersion('onnxruntime-node') ?? 'unknown',
    transformersJs: packageVersion('@huggingface/transformers'),
  };
}

export interface ModelSize {
  task: ModelSpec['task'];
  name: string;
  dir: string;
  onnxFile: string;
  onnxMegabytes: number;
  /** int8 (model_quantized.onnx) or fp32 (model.onnx), from the file name as Optimum writes it. */
  weights: 'int8' | 'fp32';
  layers: number | null;
  hidden: number | null;
  heads: number | null;
  intermediate: number | null;
  vocab: number | null;
  /** Parameter count of the BERT architecture the config describes (embeddings, encoder, pooler, head). */
  parameters: number | null;
}

const num = (config: Record<string, unknown>, key: string): number | null => {
  const v = config[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};

/**
 * Parameters of a BERT-family classifier from its config.json (the count is exact for BERT; quantized
 * files store the same parameters in int8, so the ONNX file size alone would understate the model).
 */
export function bertParameters(
  config: Record<string, unknown>,
  numLabels: number,
  task: ModelSpec['task'],
): number | null {
  const H = num(config, 'hidden_size');
  const L = num(config, 'num_hidden_layers');
  const I = num(config, 'intermediate_size') ?? (H !== null ? 4 * H : null);
  const V = num(config, 'vocab_size');
  const P = num(config, 'max_position_embeddings') ?? 512;
  const T = num(config, 'type_vocab_size') ?? 2;
  if (H === null || L === null || I === null || V === null) return null;
  const embeddings = (V + P + T) * H + 2 * H;
  const layer = 4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H;
  const pooler = task === 'sentiment' ? H * H + H : 0;
  const head = H * numLabels + numLabels;
  return embeddings + L * layer + pooler + head;
}

export function modelSize(spec: ModelSpec): ModelSize {
  const c = spec.config;
  return {
    task: spec.task,
    name: spec.name,
    dir: spec.dir,
    onnxFile: spec.onnxPath,
    onnxMegabytes: Number((statSync(spec.onnxPath).size / 1e6).toFixed(1)),
    weights: /quantized|int8|qint8|quant/i.test(spec.onnxPath) ? 'int8' : 'fp32',
    layers: num(c, 'num_hidden_layers'),
    hidden: num(c, 'hidden_size'),
    heads: num(c, 'num_attention_heads'),
    intermediate: num(c, 'intermediate_size'),
    vocab: num(c, 'vocab_size'),
    parameters: bertParameters(c, spec.id2label.length, spec.task),
  };
}
