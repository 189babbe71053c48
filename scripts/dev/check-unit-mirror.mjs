#!/usr/bin/env node
// test/unit mirrors src/ (docs/design.md, Layout): each test/unit/<dir>/<name>.test.ts tests
// src/<dir>/<name>.ts, the folder src/<dir>/<name>/, or src/<dir>/<stem>.ts when <name> is
// `<stem>-<aspect>` (codec/decode-fuzz.test.ts tests src/codec/decode.ts). A test of several modules
// at once is named in CROSS_CUTTING below. Run by `npm run lint`; prints each stray test and exits 1.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Tests of no one module: deployment files, the Python oracle, the whole post-processing chain. */
const CROSS_CUTTING = new Set([
  'k8s-render.test.ts', // k8s/ manifests rendered with kustomize
  'ops-config.test.ts', // Alertmanager configs and the kustomize base
  'security-limits.test.ts', // every input limit, across codec, config, Kafka client and logs
  'inference/joint.test.ts', // the joint model through model sets, engine, enricher and NER
  'inference/postprocess.test.ts', // softmax, windows and BIO spans across sentiment, ner and tokenize
  'stats/metrics.test.ts', // counters, drift and fairness figures on shared fixtures
  'stats/oracle.test.ts', // every statistic against the Python oracle (scipy, Fairlearn)
  'telemetry/dashboards.test.ts', // grafana/ dashboards against the metric catalogue
]);

function testFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return testFiles(full);
    return name.endsWith('.test.ts') ? [full] : [];
  });
}

/** The src paths a test at test/unit/<rel> may stand for. */
function mirrors(rel) {
  const dir = path.dirname(rel);
  const name = path.basename(rel, '.test.ts');
  const parts = name.split('-');
  const stems = parts.map((_, i) => parts.slice(0, i + 1).join('-'));
  return stems.flatMap((stem) => {
    const base = path.join(root, 'src', dir, stem);
    return stem === name ? [`${base}.ts`, base] : [`${base}.ts`];
  });
}

const unit = path.join(root, 'test', 'unit');
const stray = testFiles(unit)
  .map((file) => path.relative(unit, file).split(path.sep).join('/'))
  .filter((rel) => !CROSS_CUTTING.has(rel) && !mirrors(rel).some((p) => existsSync(p)));
for (const rel of stray)
  console.log(
    `test/unit/${rel}: no src/ file or folder of that path (or of its stem before a '-'); move it to mirror what it tests, or list it in CROSS_CUTTING`,
  );
console.log(`check-unit-mirror: ${stray.length} test file(s) that do not mirror src/`);
process.exitCode = stray.length > 0 ? 1 : 0;
