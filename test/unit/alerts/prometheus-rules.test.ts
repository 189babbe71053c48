import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultAlertRules } from '../../../src/alerts/default-rules.js';
import {
  activeAlertIdentities,
  EVALUATOR_RULE_GROUP,
  evaluatorRuleGroup,
} from '../../../src/alerts/prometheus-rules.js';
import { step, type AlertRecord, type Measurement } from '../../../src/alerts/state-machine.js';
import type { AlertRuleConfig } from '../../../src/config/schema.js';
import { createMetrics } from '../../../src/telemetry/metrics.js';
import { requirePromtool } from '../../helpers/promtool.js';
import { exportedMetricNames, metricNamesInExpr } from '../../helpers/promql.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const RULES = path.join(root, 'k8s/prometheus/rules.yml');
const CRD = path.join(root, 'k8s/base/prometheusrule.yaml');

interface RuleGroup {
  name: string;
  rules: Array<{
    alert?: string;
    record?: string;
    expr: string;
    for?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  }>;
}

function promtool(args: string[]): { code: number; output: string } {
  const res = spawnSync(requirePromtool(), args, { cwd: root, encoding: 'utf8' });
  return { code: res.status ?? -1, output: `${res.stdout}${res.stderr}` };
}

const groups = (parse(readFileSync(RULES, 'utf8')) as { groups: RuleGroup[] }).groups;

describe('Prometheus alerting rules', () => {
  it('pass promtool check rules', () => {
    const res = promtool(['check', 'rules', RULES]);
    expect(res.output).toContain('SUCCESS');
    expect(res.code).toBe(0);
  });

  it('pass the promtool unit tests in test/prometheus', () => {
    const files = readdirSync(path.join(root, 'test/prometheus')).filter((f) => f.endsWith('.test.yml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const res = promtool(['test', 'rules', path.join('test/prometheus', f)]);
      expect(res.output, res.output).toContain('SUCCESS');
      expect(res.code).toBe(0);
    }
  });

  it('every alert has for, severity, summary, description and runbook_url, and is unit-tested', () => {
    const tested = readdirSync(path.join(root, 'test/prometheus'))
      .filter((f) => f.endsWith('.test.yml'))
      .map((f) => readFileSync(path.join(root, 'test/prometheus', f), 'utf8'))
      .join('\n');
    // The evaluator group is tested below (same series through the evaluator and promtool).
    for (const rule of groups.filter((g) => g.name !== EVALUATOR_RULE_GROUP).flatMap((g) => g.rules)) {
      expect(rule.alert, JSON.stringify(rule)).toBeTruthy();
      expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(['info', 'warning', 'critical']).toContain(rule.labels?.severity);
      for (const key of ['summary', 'description', 'runbook_url'])
        expect(rule.annotations?.[key], `${rule.alert}.${key}`).toBeTruthy();
      expect(tested, `${rule.alert} has no promtool test`).toContain(`alertname: ${rule.alert}\n`);
    }
  });

  it('use only metrics that finsentry exports', () => {
    const exported = exportedMetricNames();
    for (const rule of groups.flatMap((g) => g.rules)) {
      for (const name of metricNamesInExpr(rule.expr).filter((n) => n.startsWith('finsentry_'))) {
        expect(exported, `${rule.alert}: ${name}`).toContain(name);
      }
    }
  });

  it('the PrometheusRule resource carries exactly the same groups, and promtool accepts them', () => {
    const crd = parse(readFileSync(CRD, 'utf8')) as { kind: string; spec: { groups: RuleGroup[] } };
    expect(crd.kind).toBe('PrometheusRule');
    expect(crd.spec.groups).toEqual(groups);
    const dir = mkdtempSync(path.join(tmpdir(), 'fs-rules-'));
    try {
      const file = path.join(dir, 'crd-groups.yml');
      writeFileSync(file, JSON.stringify({ groups: crd.spec.groups }));
      expect(promtool(['check', 'rules', file]).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every runbook_url (Prometheus rules and default evaluator rules) points at a section of docs/runbooks.md', () => {
    const anchors = new Set(
      readFileSync(path.join(root, 'docs/runbooks.md'), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('## '))
        .map((l) =>
          l
            .slice(3)
            .trim()
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, '-'),
        ),
    );
    const urls = [
      ...groups.flatMap((g) => g.rules).map((r) => r.annotations!.runbook_url!),
      ...defaultAlertRules().map((r) => r.runbookUrl),
    ];
    for (const url of urls) {
      const [file, anchor] = url.split('#');
      expect(file).toMatch(/docs\/runbooks\.md$/);
      expect(anchors, url).toContain(anchor);
    }
  });

  it('the finsentry-evaluator group is generated from the evaluator rules (k8s/prometheus/generate-evaluator-rules.ts)', () => {
    const group = groups.find((g) => g.name === EVALUATOR_RULE_GROUP);
    expect(group, 'run npx tsx k8s/prometheus/generate-evaluator-rules.ts').toEqual(
      evaluatorRuleGroup(defaultAlertRules()),
    );
    // No Prometheus rule re-derives a sentiment, fairness or drift decision from other gauges.
    const derived = groups
      .filter((g) => g.name !== EVALUATOR_RULE_GROUP)
      .flatMap((g) => g.rules)
      .filter((r) => /finsentry_(group|fairness|drift)_/.test(r.expr));
    expect(derived).toEqual([]);
  });

  it('Prometheus and the evaluator make the same decisions on the same series (promtool)', async () => {
    const rules = defaultAlertRules();
    const decisions = evaluatorTimeline(rules);
    const metrics = createMetrics({ stats: { dimensions: [], topK: 10 }, processMetrics: false });
    const byName = new Map(rules.map((r) => [r.name, r]));
    // The gauge the leader exports each minute, through the real metrics code, as promtool series.
    const series = new Map<string, Array<string>>();
    for (let minute = 0; minute < decisions.length; minute++) {
      metrics.alertIdentities(activeAlertIdentities(decisions[minute]!.values(), byName));
      const values = (await metrics.registry.getSingleMetric('finsentry_alert_state')!.get()).values;
      const present = new Set<string>();
      for (const v of values) {
        const labels = Object.entries({ ...v.labels, instance: 'a:9464', job: 'finsentry' })
          .map(([k, x]) => `${k}="${String(x)}"`)
          .join(',');
        const key = `finsentry_alert_state{${labels}}`;
        present.add(key);
        if (!series.has(key)) series.set(key, Array<string>(minute).fill('_'));
        series.get(key)!.push(String(v.value));
      }
      // A series that leaves the scrape gets a staleness marker, as Prometheus writes one.
      for (const [key, vals] of series)
        if (!present.has(key)) vals.push(vals[vals.length - 1] === '1' ? 'stale' : '_');
    }
    const generated = evaluatorRuleGroup(rules);
    const alertRuleTest: unknown[] = [];
    let firingChecks = 0;
    for (let minute = 0; minute < decisions.length; minute++) {
      for (const rule of rules) {
        const firing = [...decisions[minute]!.values()].filter(
          (r) => r.rule === rule.name && r.state === 'firing',
        );
        firingChecks += firing.length;
        const prom = generated.rules.find((r) => r.alert === rule.name)!;
        alertRuleTest.push({
          eval_time: `${minute}m`,
          alertname: rule.name,
          exp_alerts: firing.map((r) => expectedAlert(rule, r, prom)),
        });
      }
    }
    expect(firingChecks).toBeGreaterThan(rules.length * 3); // every rule fires for a while
    const dir = mkdtempSync(path.join(tmpdir(), 'fs-agree-'));
    try {
      const file = path.join(dir, 'agreement.test.yml');
      writeFileSync(
        file,
        JSON.stringify({
          rule_files: [RULES],
          evaluation_interval: '1m',
          tests: [
            {
              interval: '1m',
              input_series: [...series].map(([s, v]) => ({ series: s, values: v.join(' ') })),
              alert_rule_test: alertRuleTest,
            },
          ],
        }),
      );
      const res = promtool(['test', 'rules', file]);
      expect(res.output, res.output).toContain('SUCCESS');
      expect(res.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A measurement of `rule` that breaches (or clearly does not), as the evaluator's measure step would give. */
function measurement(rule: AlertRuleConfig, breaching: boolean, group: string): Measurement {
  const beyond = rule.comparison === '>' || rule.comparison === '>=' ? 1 : -1;
  const margin = Math.max(Math.abs(rule.threshold), 1) * 0.5;
  const value = rule.threshold + (breaching ? beyond : -beyond) * margin;
  const dimension = rule.kind === 'pipeline' ? 'pipeline' : (rule.dimension ?? '_all');
  return {
    rule: rule.name,
    dimension,
    group: rule.kind === 'fairness' || rule.kind === 'pipeline' ? '*' : group,
    value,
    sampleSize: 10_000,
    judged: true,
    pValue: 1e-9,
    ...(rule.kind === 'fairness' ? { interval: { low: value - 0.01, high: value + 0.01, level: 0.95 } } : {}),
  };
}

/**
 * The evaluator's decisions minute by minute: every default rule is stepped (the real state machine)
 * through a breach that starts at a rule-specific minute and lasts long enough to fire, then clears;
 * per-group rules have two groups with different episodes. Returns the records after each minute.
 */
function evaluatorTimeline(rules: readonly AlertRuleConfig[]): Array<Map<string, AlertRecord>> {
  const minutes = 60;
  const records = new Map<string, AlertRecord>();
  const out: Array<Map<string, AlertRecord>> = [];
  for (let minute = 0; minute < minutes; minute++) {
    rules.forEach((rule, i) => {
      const episodes = [
        { group: 'acme', from: 2 + i, to: 2 + i + Math.round(rule.for / 60_000) + 6 },
        { group: 'globex', from: 30 + i, to: 30 + i + Math.round(rule.for / 60_000) + 3 },
      ];
      for (const e of episodes) {
        const m = measurement(rule, minute >= e.from && minute < e.to, e.group);
        const key = `${rule.name}|${m.group}`;
        const { next } = step(rule, records.get(key), m, minute * 60_000);
        if (next) records.set(key, next);
        else records.delete(key);
      }
    });
    out.push(new Map(records));
  }
  return out;
}

/** What promtool must report for one firing evaluator record under the generated Prometheus rule. */
function expectedAlert(
  rule: AlertRuleConfig,
  record: AlertRecord,
  prom: { labels: Record<string, string>; annotations: Record<string, string> },
) {
  const labels: Record<string, string> = { ...prom.labels };
  if (rule.kind !== 'pipeline') labels.dimension = record.dimension;
  if (record.group !== '*') labels.group = record.group;
  const render = (t: string) =>
    t
      .replace('{{ $labels.dimension }}', labels.dimension ?? '')
      .replace('{{ $labels.group }}', labels.group ?? '');
  return {
    exp_labels: labels,
    exp_annotations: Object.fromEntries(Object.entries(prom.annotations).map(([k, v]) => [k, render(v)])),
  };
}
