#!/usr/bin/env node
// Writes k8s/base/prometheusrule.yaml (PrometheusRule custom resource) from k8s/prometheus/rules.yml,
// the plain rules file that Prometheus, promtool and the local stack load. `--check` exits 1 when the
// resource is out of date instead of writing it.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = fileURLToPath(new URL('../../', import.meta.url));
const source = `${root}k8s/prometheus/rules.yml`;
const target = `${root}k8s/base/prometheusrule.yaml`;

const rules = YAML.parse(readFileSync(source, 'utf8'));
const resource = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: {
    name: 'finsentry',
    labels: { 'app.kubernetes.io/name': 'finsentry', 'app.kubernetes.io/component': 'alerting', release: 'prometheus' },
  },
  spec: { groups: rules.groups },
};
const header =
  '# Generated from k8s/prometheus/rules.yml (the source of truth) — keep equal; test/unit/alerts/prometheus-rules.test.ts\n' +
  '# fails when they differ. Regenerate: node k8s/prometheus/sync-prometheusrule.mjs\n';
const text = header + YAML.stringify(resource, { lineWidth: 0 });

if (process.argv.includes('--check')) {
  const current = readFileSync(target, 'utf8');
  if (current !== text) {
    process.stderr.write(`${target} is out of date; run node k8s/prometheus/sync-prometheusrule.mjs\n`);
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
}
