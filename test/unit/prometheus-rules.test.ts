import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultAlertRules } from '../../src/alerts/default-rules.js';
import { requirePromtool } from '../helpers/promtool.js';
import { exportedMetricNames, metricNamesInExpr } from '../helpers/promql.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
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
    for (const rule of groups.flatMap((g) => g.rules)) {
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
});
