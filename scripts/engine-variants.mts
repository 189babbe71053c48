// Side-by-side engine variants (docs/inference.md "Threads"): each variant is an OnnxEnricher with its own
// thread/batch settings, timed on the same bench corpus in interleaved rounds; docs/s and docs per
// CPU-second (process.cpuUsage: every thread of the process) as medians and as ratios to the first.
// Run: npx tsx scripts/engine-variants.mts   (DOCS=200 ROUNDS=3 ONLY=0,2 to pick variants)
import { OnnxEnricher } from '../src/inference/enricher.ts';
import { buildCorpus } from '../src/tools/bench/corpus.ts';
import { loadConfig } from '../src/config/load.ts';
const cfg = loadConfig(undefined);
const docs = buildCorpus({ mix: 'mixed', documents: Number(process.env.DOCS ?? 200), seed: 1 });
const reqs = docs.map((d) => ({ id: d.id, text: d.text }));
type V = { name: string; models: any; batching: any; share: boolean };
const V = (name: string, m: any, b: any, share = true): V => ({
  name,
  models: { ...cfg.models, ...m },
  batching: { ...cfg.batching, ...b },
  share,
});
const oldB = { maxBatchSize: 64, maxPaddingRatio: 0.2, maxInFlightBatches: 2 };
const newB = { maxBatchSize: 8, maxPaddingRatio: 0.1, maxInFlightBatches: 2 };
const all: V[] = [
  V(
    'old: ORT default threads, spin on, batch 64/0.2, tokenize twice',
    { intraOpThreads: 0, intraOpSpinning: 'on', inferenceWorkers: 1 },
    oldB,
    false,
  ),
  V('t2 spin off, b64', { intraOpThreads: 2, intraOpSpinning: 'off', inferenceWorkers: 1 }, oldB),
  V('t2 spin off, b8/0.1', { intraOpThreads: 2, intraOpSpinning: 'off', inferenceWorkers: 1 }, newB),
  V(
    't1 spin off, b8/0.1, 1 worker',
    { intraOpThreads: 1, intraOpSpinning: 'off', inferenceWorkers: 1 },
    newB,
  ),
  V(
    't1 spin off, b8/0.1, 2 workers',
    { intraOpThreads: 1, intraOpSpinning: 'off', inferenceWorkers: 2 },
    newB,
  ),
  V(
    't1 spin off, b8/0.1, 1 worker, tokenize twice',
    { intraOpThreads: 1, intraOpSpinning: 'off', inferenceWorkers: 1 },
    newB,
    false,
  ),
].filter((_, i) => !process.env.ONLY || process.env.ONLY.split(',').includes(String(i)));
// 'old' must keep the ORT default: intraOpThreads 0 now means auto, so pass the ORT default explicitly (physical cores = 2 here)
all[0] && all[0].name.startsWith('old') && (all[0].models.intraOpThreads = 2);
const res = new Map<string, Array<[number, number]>>();
const rounds = Number(process.env.ROUNDS ?? 3);
for (let r = 0; r < rounds; r++) {
  for (const v of all) {
    const e = await OnnxEnricher.create(v.models, v.batching, { shareTokenizer: v.share });
    await e.enrich(reqs.slice(0, 32));
    const chunks: any[] = [];
    for (let i = 0; i < reqs.length; i += 32) chunks.push(reqs.slice(i, i + 32));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < chunks.length) await e.enrich(chunks[next++]);
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    await e.close();
    (res.get(v.name) ?? res.set(v.name, []).get(v.name)!).push([reqs.length / wall, reqs.length / cpu]);
  }
}
const med = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
};
const base = res.get(all[0]!.name)!;
for (const v of all) {
  const r = res.get(v.name)!;
  const w = med(r.map((x) => x[0])),
    c = med(r.map((x) => x[1]));
  console.log(
    `${v.name.padEnd(50)} docs/s ${w.toFixed(1).padStart(6)} (${(w / med(base.map((x) => x[0]))).toFixed(2)}x)  docs/CPU-s ${c.toFixed(1).padStart(6)} (${(c / med(base.map((x) => x[1]))).toFixed(2)}x)  rounds ${r.map((x) => x[0].toFixed(0) + '/' + x[1].toFixed(0)).join(' ')}`,
  );
}
