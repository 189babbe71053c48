// Writes the `finsentry-evaluator` group of k8s/prometheus/rules.yml from the evaluator's default rule
// definitions (src/alerts/prometheus-rules.ts): Prometheus alerts on the evaluator's own decision, the
// finsentry_alert_state gauge, instead of re-deriving it from other gauges with other statistics.
// `--check` exits 1 when the file is out of date. Then run node k8s/prometheus/sync-prometheusrule.mjs.
//
//     npx tsx k8s/prometheus/generate-evaluator-rules.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { defaultAlertRules } from '../../src/alerts/default-rules.js';
import { EVALUATOR_RULE_GROUP, evaluatorRuleGroup } from '../../src/alerts/prometheus-rules.js';

const file = fileURLToPath(new URL('./rules.yml', import.meta.url));
const text = readFileSync(file, 'utf8');
const doc = YAML.parseDocument(text);
const groups = doc.get('groups') as YAML.YAMLSeq;
const generated = doc.createNode(evaluatorRuleGroup(defaultAlertRules()));
const index = groups.items.findIndex((g) => (g as YAML.YAMLMap).get('name') === EVALUATOR_RULE_GROUP);
if (index >= 0) groups.items[index] = generated;
else groups.items.push(generated);
const out = doc.toString({ lineWidth: 0 });

if (process.argv.includes('--check')) {
  if (out !== text) {
    process.stderr.write(`${file} is out of date; run npx tsx k8s/prometheus/generate-evaluator-rules.ts\n`);
    process.exit(1);
  }
} else {
  writeFileSync(file, out);
}
