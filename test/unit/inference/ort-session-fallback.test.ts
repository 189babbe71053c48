// models.allowCpuFallback: a GPU deployment (k8s gpu overlay) refuses to start on CPU when CUDA cannot
// be loaded; by default it falls back with a warning; finsentry_model_info names the provider in use.
// (On a host with onnxruntime-node's CUDA provider and a GPU, the first test is skipped.)
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ModelLoadError } from '../../../src/inference/model.js';
import { openSession } from '../../../src/inference/ort-session.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { repoRoot } from '../../helpers/finsentry-cli.js';

const onnx = path.join(repoRoot, 'models/finsentry-sentiment/model_quantized.onnx');
const ortDir = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
const cudaInstalled = existsSync(
  path.join(ortDir, 'bin/napi-v6/linux', process.arch, 'libonnxruntime_providers_cuda.so'),
);
const base = { intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all' as const };

describe('CUDA unavailable', () => {
  it.skipIf(cudaInstalled)('allowCpuFallback false: refuses, naming the setting', async () => {
    await expect(
      openSession(onnx, { ...base, executionProvider: 'cuda', allowCpuFallback: false }),
    ).rejects.toThrow(ModelLoadError);
    await expect(
      openSession(onnx, { ...base, executionProvider: 'cuda', allowCpuFallback: false }),
    ).rejects.toThrow(
      /CUDA execution provider unavailable .* models\.allowCpuFallback is false: refusing to run on CPU/,
    );
  });

  it.skipIf(cudaInstalled)('default: falls back to CPU with one warning', async () => {
    const opened = await openSession(onnx, { ...base, executionProvider: 'cuda' });
    try {
      expect(opened.provider).toBe('cpu');
      expect(opened.warnings.map((w) => w.line)).toEqual([expect.stringContaining('falling back to CPU')]);
    } finally {
      await opened.session.release();
    }
  });

  it('finsentry_model_info carries the provider in use', async () => {
    const metrics = createMetrics({ stats: parseConfig({}, {}).stats });
    metrics.modelInfo(
      [{ task: 'sentiment', name: 'finsentry-sentiment', version: '1.0.0', sha256: 'ab'.repeat(32) }],
      { sentiment: 'cpu' },
    );
    expect(await metrics.registry.metrics()).toMatch(/finsentry_model_info\{[^}]*provider="cpu"\} 1/);
  });
});
