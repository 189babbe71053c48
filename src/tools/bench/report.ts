import type { BatchingConfig } from '../../config/schema.js';
import type { CorpusSummary } from './corpus.js';
import type { MachineInfo, ModelSize } from './machine.js';
import { ratio } from './measure.js';
import type { BenchRow, LatencyResult, RowId } from './types.js';

/** The whole result of one `finsentry bench` run, as written to --json and rendered to the doc. */
export interface BenchReport {
  version: 1;
  label: string;
  command: string;
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  machine: MachineInfo;
  executionProvider: { requested: string; used: Record<string, string> };
  threads: { intraOp: number; interOp: number; note: string };
  models: ModelSize[];
  windowing: { maxLength: number; stride: number; maxWindows: number };
  batching: BatchingConfig;
  corpus: CorpusSummary;
  rows: BenchRow[];
  latency: LatencyResult | null;
  ratios: Ratios;
  notes: string[];
}

export interface Ratio {
  value: number | null;
  target: number | null;
  met: boolean | null;
}

export interface Ratios {
  pipelineOverCeiling: Ratio;
  inferOverCeiling: Ratio;
  /** The joint model (one pass for both tasks) over the sentiment+NER pair, docs/s in the same run (issue #15). */
  jointOverInfer?: Ratio;
  inferOverNaive: Ratio;
  inferOverPeer: Ratio;
  /** infer/peer in text tokens per second (the peer truncates long texts, finsentry reads them whole). */
  inferOverPeerTokens: Ratio;
  /** The same ratios in documents per process CPU-second (robust to a busy machine). */
  inferOverCeilingCpu?: Ratio;
  /** infer and the ceiling against the first-principles limit, in docs per CPU-second. */
  inferOverLimitCpu?: Ratio;
  ceilingOverLimitCpu?: Ratio;
  inferOverNaiveCpu?: Ratio;
  inferOverPeerCpu?: Ratio;
}

export const TARGETS = {
  pipelineOverCeiling: 0.9,
  inferOverNaive: 4,
  inferOverPeer: 2,
  inferOverLimitCpu: 0.7,
} as const;

function makeRatio(value: number | null, target: number | null): Ratio {
  return {
    value: value === null ? null : Number(value.toFixed(3)),
    target,
    met: value === null || target === null ? null : value >= target,
  };
}

export function computeRatios(rows: readonly BenchRow[]): Ratios {
  const get = (id: RowId): BenchRow | undefined => rows.find((r) => r.id === id && !r.error);
  const docs = (id: RowId) => get(id)?.docsPerSecond;
  const tokens = (id: RowId) => get(id)?.textTokensPerSecond ?? undefined;
  const cpu = (id: RowId) => get(id)?.docsPerCpuSecond;
  return {
    pipelineOverCeiling: makeRatio(ratio(docs('pipeline'), docs('ceiling')), TARGETS.pipelineOverCeiling),
    inferOverCeiling: makeRatio(ratio(docs('infer'), docs('ceiling')), null),
    jointOverInfer: makeRatio(ratio(docs('joint'), docs('infer')), null),
    inferOverNaive: makeRatio(ratio(docs('infer'), docs('naive')), TARGETS.inferOverNaive),
    inferOverPeer: makeRatio(ratio(docs('infer'), docs('peer')), TARGETS.inferOverPeer),
    inferOverPeerTokens: makeRatio(ratio(tokens('infer'), tokens('peer')), null),
    inferOverCeilingCpu: makeRatio(ratio(cpu('infer'), cpu('ceiling')), null),
    inferOverLimitCpu: makeRatio(ratio(cpu('infer'), cpu('limit')), TARGETS.inferOverLimitCpu),
    ceilingOverLimitCpu: makeRatio(ratio(cpu('ceiling'), cpu('limit')), null),
    inferOverNaiveCpu: makeRatio(ratio(cpu('infer'), cpu('naive')), null),
    inferOverPeerCpu: makeRatio(ratio(cpu('infer'), cpu('peer')), null),
  };
}

const fmt = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x)
    ? '–'
    : x >= 100
      ? Math.round(x).toLocaleString('en-US')
      : x.toFixed(digits);
const fmtRatio = (r: Ratio | undefined): string =>
  r === undefined || r.value === null
    ? '–'
    : `${r.value.toFixed(2)}${r.target !== null ? ` (target ≥ ${r.target}: ${r.met ? 'met' : 'not met'})` : ''}`;

const ROW_LABELS: Record<RowId, string> = {
  limit: '0 limit',
  ceiling: '1 ceiling',
  infer: '2 infer',
  joint: '2b joint',
  pipeline: '3 pipeline',
  naive: '4 naive',
  peer: '5 peer',
  stats: '6 stats',
};

/** The infer row at 1 and 2 inference workers of one intra-op thread each (details.workers). */
function workersLine(report: BenchReport): string | null {
  const infer = report.rows.find((r) => r.id === 'infer' && !r.error);
  const w = infer?.details?.['workers'] as
    Record<string, { docsPerSecond: number; docsPerCpuSecond: number }> | undefined;
  if (!w?.['1'] || !w['2']) return null;
  return `infer at 1 / 2 inference workers (1 intra-op thread each): ${fmt(w['1'].docsPerSecond)} / ${fmt(w['2'].docsPerSecond)} docs/s, ${fmt(w['1'].docsPerCpuSecond)} / ${fmt(w['2'].docsPerCpuSecond)} docs per CPU-second`;
}

/** Plain-text table for stdout. */
export function formatTable(report: BenchReport): string {
  const header = ['row', 'docs/s', 'docs/CPU-s', 'text tok/s', 'model tok/s', 'median s', 'setting'];
  const lines: string[][] = [header];
  for (const r of report.rows) {
    if (r.error) lines.push([ROW_LABELS[r.id], 'error', '', '', '', '', r.error]);
    else
      lines.push([
        ROW_LABELS[r.id],
        fmt(r.docsPerSecond),
        fmt(r.docsPerCpuSecond),
        fmt(r.textTokensPerSecond, 0),
        fmt(r.modelTokensPerSecond, 0),
        r.seconds.toFixed(2),
        r.setting,
      ]);
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => (l[c] ?? '').length)));
  const out = lines.map((l) =>
    l.map((cell, c) => (c === l.length - 1 ? cell : cell.padEnd(widths[c] ?? 0))).join('  '),
  );
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const l = report.latency;
  if (l)
    out.push(
      '',
      `latency at ${fmt(l.ratePerSecond)} docs/s (50% of pipeline capacity), ${l.received}/${l.documents} docs: p50 ${fmt(l.p50Ms, 0)} ms, p95 ${fmt(l.p95Ms, 0)} ms, p99 ${fmt(l.p99Ms, 0)} ms, max ${fmt(l.maxMs, 0)} ms`,
    );
  const scaling = workersLine(report);
  if (scaling) out.push(scaling);
  const stats = report.rows.find((r) => r.id === 'stats' && !r.error);
  if (stats?.details)
    out.push(
      `stats stage: ${fmt(stats.docsPerSecond)} docs/s, ${String(stats.details['groupsPerDocument'])} groups/doc, ${String(stats.details['roundTripsPerBatch'])} Redis round trips per batch`,
    );
  const r = report.ratios;
  out.push(
    '',
    `pipeline/ceiling ${fmtRatio(r.pipelineOverCeiling)}`,
    `infer/ceiling    ${fmtRatio(r.inferOverCeiling)}`,
    ...(r.jointOverInfer?.value != null ? [`joint/infer      ${fmtRatio(r.jointOverInfer)}`] : []),
    `infer/naive      ${fmtRatio(r.inferOverNaive)}`,
    `infer/peer       ${fmtRatio(r.inferOverPeer)}; in text tokens/s ${fmtRatio(r.inferOverPeerTokens)}`,
    `per CPU-second: infer/limit ${fmtRatio(r.inferOverLimitCpu)}, ceiling/limit ${fmtRatio(r.ceilingOverLimitCpu)}, infer/ceiling ${fmtRatio(r.inferOverCeilingCpu)}, infer/naive ${fmtRatio(r.inferOverNaiveCpu)}, infer/peer ${fmtRatio(r.inferOverPeerCpu)}`,
  );
  return out.join('\n');
}

export function sectionMarkers(label: string): { begin: string; end: string } {
  return { begin: `<!-- bench:begin ${label} -->`, end: `<!-- bench:end ${label} -->` };
}

function shape(m: ModelSize): string {
  return m.layers !== null && m.hidden !== null
    ? `${m.layers} layers, ${m.hidden} hidden, ${m.heads ?? '?'} heads, ${m.intermediate ?? '?'} FFN`
    : 'unknown';
}

/** The generated Markdown section of one run (between markers, so a rerun replaces it). */
export function renderMarkdownSection(report: BenchReport): string {
  const m = report.machine;
  const { begin, end } = sectionMarkers(report.label);
  const out: string[] = [begin, `### ${report.label}`, ''];
  out.push(
    `Generated by \`${report.command}\` at ${report.finishedAt}${report.quick ? ' (--quick: smoke-test size, not a measurement)' : ''}.`,
    '',
  );
  out.push(
    `- Machine: ${m.cpuModel}, ${m.logicalCpus} logical CPUs (${m.availableParallelism} available to the process), ${m.memoryGiB} GiB memory, load average ${m.loadAverage1m} at start; ${m.platform}`,
    `- Software: Node ${m.node}, onnxruntime-node ${m.onnxruntimeNode}, @huggingface/transformers ${m.transformersJs ?? 'not installed'}`,
    `- Execution provider: requested ${report.executionProvider.requested}, used ${
      Object.entries(report.executionProvider.used)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || report.executionProvider.requested
    }`,
    `- Threads: ${report.threads.note}`,
    `- Windowing: ${report.windowing.maxLength} tokens per window, stride ${report.windowing.stride}, at most ${report.windowing.maxWindows} windows; batching: max ${report.batching.maxBatchSize} windows / ${report.batching.maxBatchTokens} padded tokens per batch, ${report.batching.maxWait} ms max wait, ${report.batching.maxInFlightBatches} batches in flight`,
    '',
  );
  out.push('| model | task | shape | parameters | weights | ONNX file |', '|---|---|---|---:|---|---:|');
  for (const md of report.models)
    out.push(
      `| ${md.name} | ${md.task} | ${shape(md)} | ${md.parameters === null ? '–' : `${(md.parameters / 1e6).toFixed(1)} M`} | ${md.weights} | ${md.onnxMegabytes} MB |`,
    );
  const c = report.corpus;
  out.push(
    '',
    `Corpus: ${c.documents} documents, mix \`${c.mix}\`, seed ${c.seed}, ${c.tokens.toLocaleString('en-US')} text tokens — ` +
      (['chat', 'headline', 'article'] as const)
        .filter((k) => c.byShape[k].documents > 0)
        .map(
          (k) =>
            `${k} ${c.byShape[k].documents} (mean ${c.byShape[k].meanTokens}, max ${c.byShape[k].maxTokens} tokens)`,
        )
        .join(', '),
    '',
  );
  out.push(
    '| row | docs/s | docs/CPU-s | text tokens/s | model tokens/s | median s (runs) | setting |',
    '|---|---:|---:|---:|---:|---:|---|',
  );
  for (const r of report.rows) {
    if (r.error) out.push(`| ${ROW_LABELS[r.id]} | error | | | | | ${r.error.replace(/\|/g, '\\|')} |`);
    else
      out.push(
        `| ${ROW_LABELS[r.id]}: ${r.title} | ${fmt(r.docsPerSecond)} | ${fmt(r.docsPerCpuSecond)} | ${fmt(r.textTokensPerSecond, 0)} | ${fmt(r.modelTokensPerSecond, 0)} | ${r.seconds.toFixed(2)} (${r.runs.length}) | ${r.setting} |`,
      );
  }
  const l = report.latency;
  out.push('');
  if (l)
    out.push(
      `End-to-end latency at ${fmt(l.ratePerSecond)} docs/s (50% of the measured pipeline capacity), ${l.received} of ${l.documents} documents: p50 ${fmt(l.p50Ms, 0)} ms, p95 ${fmt(l.p95Ms, 0)} ms, p99 ${fmt(l.p99Ms, 0)} ms, max ${fmt(l.maxMs, 0)} ms.`,
      '',
    );
  const scalingLine = workersLine(report);
  if (scalingLine) out.push(`${scalingLine}.`, '');
  const stats = report.rows.find((r) => r.id === 'stats' && !r.error);
  if (stats?.details)
    out.push(
      `Stats stage: ${String(stats.details['groupsPerDocument'])} groups per document, ${String(stats.details['roundTripsPerBatch'])} Redis round trip(s) per batch of ${report.batching.maxBatchSize} documents.`,
      '',
    );
  const r = report.ratios;
  out.push(
    '| ratio | value |',
    '|---|---|',
    `| pipeline / ceiling | ${fmtRatio(r.pipelineOverCeiling)} |`,
    `| infer / ceiling | ${fmtRatio(r.inferOverCeiling)} |`,
    ...(r.jointOverInfer?.value != null
      ? [`| joint / infer (docs/s) | ${fmtRatio(r.jointOverInfer)} |`]
      : []),
    `| infer / naive | ${fmtRatio(r.inferOverNaive)} |`,
    `| infer / peer (docs/s) | ${fmtRatio(r.inferOverPeer)} |`,
    `| infer / peer (text tokens/s) | ${fmtRatio(r.inferOverPeerTokens)} |`,
    `| infer / limit (docs per CPU-second) | ${fmtRatio(r.inferOverLimitCpu)} |`,
    `| ceiling / limit (docs per CPU-second) | ${fmtRatio(r.ceilingOverLimitCpu)} |`,
    `| infer / ceiling (docs per CPU-second) | ${fmtRatio(r.inferOverCeilingCpu)} |`,
    `| infer / naive (docs per CPU-second) | ${fmtRatio(r.inferOverNaiveCpu)} |`,
    `| infer / peer (docs per CPU-second) | ${fmtRatio(r.inferOverPeerCpu)} |`,
    '',
  );
  if (report.notes.length > 0) out.push(...report.notes.map((n) => `- ${n}`), '');
  out.push(end);
  return out.join('\n');
}

/** Replaces the section with the same label, or appends it at the end. */
export function updateDocument(document: string, section: string, label: string): string {
  const { begin, end } = sectionMarkers(label);
  const i = document.indexOf(begin);
  const j = document.indexOf(end);
  if (i >= 0 && j > i) return `${document.slice(0, i)}${section}${document.slice(j + end.length)}`;
  return `${document.replace(/\s*$/, '')}\n\n${section}\n`;
}
