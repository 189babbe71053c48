// `finsentry bench --quick` end to end on the real local stack with tiny synthesized models: the run
// completes, and the stdout table, the JSON report and the Markdown section are produced and
// well-formed. No assertion on speed (performance figures belong in docs/benchmarks.md).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../../src/tools/bench/report.js';
import { ROW_IDS } from '../../src/tools/bench/types.js';
import { synthesizeModel } from '../../src/tools/models/synth/index.js';
import { kafkaBrokers, redisUrl } from '../helpers/stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const work = mkdtempSync(join(os.tmpdir(), 'finsentry-bench-it-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('finsentry bench --quick', () => {
  it('runs every row on the local stack and writes a well-formed table, JSON report and Markdown section', async () => {
    const shape = {
      layers: 1,
      hidden: 32,
      heads: 2,
      intermediate: 64,
      seed: 3,
      vocabFrom: join(ROOT, 'test/fixtures/inference'),
      maxPositions: 512,
    };
    const sentiment = synthesizeModel({ task: 'sentiment', out: join(work, 'sentiment'), ...shape });
    const ner = synthesizeModel({ task: 'ner', out: join(work, 'ner'), ...shape });
    const configPath = join(work, 'config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        kafka: { brokers: kafkaBrokers() },
        redis: { url: redisUrl() },
        log: { level: 'error' },
      }),
    );
    const jsonPath = join(work, 'report.json');
    const docPath = join(work, 'benchmarks.md');
    writeFileSync(docPath, '# Benchmarks\n\nHand-written introduction.\n');
    const label = 'quick smoke test';
    const args = [
      'bench',
      '--quick',
      '--model',
      sentiment.dir,
      '--ner-model',
      ner.dir,
      '--docs',
      '48',
      '--latency-seconds',
      '3',
      '--config',
      configPath,
      '--json',
      jsonPath,
      '--doc',
      docPath,
      '--label',
      label,
    ];

    const { stdout } = await run(
      join(ROOT, 'node_modules/.bin/tsx'),
      [join(ROOT, 'src/cli/main.ts'), ...args],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 280_000 },
    );

    // stdout: the label, then one table line per row, the latency line and the ratios.
    expect(stdout.split('\n')[0]).toBe(label);
    // 2b joint: the committed joint model (models/finsentry-multilingual, the default models.sets entry)
    for (const name of [
      '0 limit',
      '1 ceiling',
      '2 infer',
      '2b joint',
      '3 pipeline',
      '4 naive',
      '5 peer',
      '6 stats',
    ])
      expect(stdout).toMatch(new RegExp(`^${name} +[0-9]`, 'm'));
    expect(stdout).toMatch(/^latency at [0-9.]+ docs\/s .* p50 [0-9,]+ ms, p95 [0-9,]+ ms, p99 [0-9,]+ ms/m);
    for (const ratio of ['pipeline/ceiling', 'infer/ceiling', 'joint/infer', 'infer/naive', 'infer/peer'])
      expect(stdout).toMatch(new RegExp(`^${ratio} +[0-9]+\\.[0-9]{2}`, 'm'));

    const report = JSON.parse(readFileSync(jsonPath, 'utf8')) as BenchReport;
    expect(report.version).toBe(1);
    expect(report.quick).toBe(true);
    expect(report.label).toBe(label);
    expect(report.rows.map((r) => r.id)).toEqual([...ROW_IDS]);
    for (const r of report.rows) {
      expect(r.error, `${r.id}: ${r.error}`).toBeUndefined();
      expect(Number.isFinite(r.docsPerSecond) && r.docsPerSecond > 0, r.id).toBe(true);
      expect(r.runs.length).toBeGreaterThanOrEqual(1);
      expect(r.docsPerSecond).toBeCloseTo(r.documents / r.seconds, 6);
      if (r.id !== 'stats') {
        expect(r.documents).toBe(48);
        expect(r.textTokensPerSecond).toBeGreaterThan(0);
        expect(r.modelTokensPerSecond).toBeGreaterThan(0);
      }
    }
    // The finsentry rows read every text token; the ceiling feeds exactly the windows the enricher batches.
    const byId = Object.fromEntries(report.rows.map((r) => [r.id, r]));
    const textTokens = (id: string) => byId[id]!.textTokensPerSecond! * byId[id]!.seconds;
    const modelTokens = (id: string) => byId[id]!.modelTokensPerSecond! * byId[id]!.seconds;
    for (const id of ['limit', 'ceiling', 'infer', 'pipeline', 'naive'])
      expect(textTokens(id)).toBeCloseTo(report.corpus.tokens, 3);
    // Docs per CPU-second beside docs/s for the rows that run in this process's threads.
    for (const id of ['limit', 'ceiling', 'infer', 'naive', 'peer'])
      expect(byId[id]!.docsPerCpuSecond, id).toBeGreaterThan(0);
    for (const id of ['limit', 'infer', 'pipeline', 'naive'])
      expect(modelTokens(id)).toBeCloseTo(modelTokens('ceiling'), 3);
    expect(textTokens('peer')).toBeLessThanOrEqual(report.corpus.tokens + 1e-6);

    expect(report.corpus.documents).toBe(48);
    expect(Object.values(report.corpus.byShape).reduce((s, b) => s + b.documents, 0)).toBe(48);
    expect(report.models.map((m) => [m.task, m.weights, m.layers, m.hidden])).toEqual([
      ['sentiment', 'fp32', 1, 32],
      ['ner', 'fp32', 1, 32],
    ]);
    // The report counts BERT parameters from config.json; synth's count adds its few dozen graph
    // constants (shape tensors, 0.5, √2, …) to the weights, so the two agree to within those.
    for (const [i, synth] of [sentiment, ner].entries()) {
      const counted = report.models[i]!.parameters!;
      expect(counted).toBeLessThanOrEqual(synth.parameters);
      expect(synth.parameters - counted).toBeLessThan(64);
    }
    expect(report.machine.logicalCpus).toBeGreaterThan(0);
    expect(report.machine.onnxruntimeNode).toMatch(/^\d+\.\d+\.\d+/);

    const latency = report.latency!;
    expect(latency.received).toBe(latency.documents);
    expect(latency.p50Ms).toBeLessThanOrEqual(latency.p95Ms);
    expect(latency.p95Ms).toBeLessThanOrEqual(latency.p99Ms);
    expect(latency.p99Ms).toBeLessThanOrEqual(latency.maxMs);
    const stats = byId['stats']!.details!;
    expect(stats['roundTripsPerBatch']).toBe(1);
    expect(stats['groupsPerDocument']).toBeGreaterThan(1);

    for (const key of [
      'pipelineOverCeiling',
      'inferOverCeiling',
      'inferOverNaive',
      'inferOverPeer',
      'inferOverPeerTokens',
      'inferOverLimitCpu',
      'inferOverCeilingCpu',
      'inferOverNaiveCpu',
    ] as const) {
      expect(report.ratios[key]?.value).toBeGreaterThan(0);
    }
    expect(report.ratios.inferOverNaive.value).toBeCloseTo(
      byId['infer']!.docsPerSecond / byId['naive']!.docsPerSecond,
      2,
    );

    // Markdown: the hand-written part kept, one generated section between the label's markers.
    const doc = readFileSync(docPath, 'utf8');
    expect(doc.startsWith('# Benchmarks\n\nHand-written introduction.\n')).toBe(true);
    expect(doc.split(`<!-- bench:begin ${label} -->`).length).toBe(2);
    expect(doc.split(`<!-- bench:end ${label} -->`).length).toBe(2);
    for (const cell of [
      '| 1 ceiling',
      '| 2 infer',
      '| 3 pipeline',
      '| 4 naive',
      '| 5 peer',
      '| 6 stats',
      '| pipeline / ceiling |',
      '| infer / peer (docs/s) |',
    ])
      expect(doc).toContain(cell);
  });
});
