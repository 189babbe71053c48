import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboardQueries, loadDashboards, substituteVariables } from '../../helpers/grafana.js';
import { exportedMetricNames, metricNamesInExpr } from '../../helpers/promql.js';
import { requirePromtool } from '../../helpers/promtool.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('Grafana dashboards', () => {
  const queries = dashboardQueries();

  it('cover pipeline health, sentiment by group, fairness, drift and alerts', () => {
    const titles = loadDashboards().map((d) => d.dashboard.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        'finsentry / Pipeline health',
        'finsentry / Sentiment by group',
        'finsentry / Fairness',
        'finsentry / Drift',
        'finsentry / Alerts',
      ]),
    );
    for (const { dashboard } of loadDashboards()) {
      const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id);
      expect(new Set(ids).size).toBe(ids.length);
    }
    expect(queries.length).toBeGreaterThan(25);
  });

  it('show realised and estimated accuracy per group with label coverage, and EOD/TPR/FPR (issue #19)', () => {
    const exprsOf = (dashboard: string) =>
      queries.filter((q) => q.dashboard === dashboard).map((q) => q.expr);
    for (const dashboard of ['finsentry-sentiment.json', 'finsentry-fairness.json']) {
      const exprs = exprsOf(dashboard).join('\n');
      for (const metric of [
        'finsentry_group_accuracy_ratio',
        'finsentry_group_estimated_accuracy_ratio',
        'finsentry_group_label_coverage_ratio',
      ])
        expect(exprs, `${dashboard}: ${metric}`).toContain(metric);
    }
    const fairness = exprsOf('finsentry-fairness.json').join('\n');
    for (const metric of [
      'finsentry_fairness_equalized_odds_difference{',
      'finsentry_fairness_equalized_odds_difference_bound',
      'finsentry_group_true_positive_rate',
      'finsentry_group_false_positive_rate',
    ])
      expect(fairness, metric).toContain(metric);
  });

  it('are what grafana/generate-dashboards.mjs generates', () => {
    const res = spawnSync(process.execPath, [path.join(root, 'grafana/generate-dashboards.mjs'), '--check'], {
      encoding: 'utf8',
    });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
  });

  it('every query has its variables resolved and uses only exported metrics', () => {
    const exported = new Set([...exportedMetricNames(), 'ALERTS']);
    for (const q of queries) {
      expect(q.expr, `${q.dashboard} / ${q.panel}`).not.toMatch(/\$/);
      const names = metricNamesInExpr(q.expr);
      expect(names.length, `${q.dashboard} / ${q.panel}: no metric`).toBeGreaterThan(0);
      for (const n of names) expect(exported.has(n), `${q.dashboard} / ${q.panel}: ${n}`).toBe(true);
    }
  });

  it('every query parses as PromQL (promtool parses it as a recording rule)', () => {
    const promtool = requirePromtool();
    const dir = mkdtempSync(path.join(tmpdir(), 'fs-dash-'));
    try {
      const file = path.join(dir, 'queries.yml');
      const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr }));
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
      const res = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
      expect(`${res.stdout}${res.stderr}`).toContain(`SUCCESS: ${rules.length} rules found`);
      // and a broken query would be caught
      writeFileSync(
        file,
        JSON.stringify({ groups: [{ name: 'x', rules: [{ record: 'x:y', expr: 'sum by (a (foo)' }] }] }),
      );
      expect(spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' }).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('substitutes plain, braced and formatted variables', () => {
    expect(
      substituteVariables('a{w="$window"}[${__rate_interval}] ${x:regex} $unknown', {
        window: '5m',
        __rate_interval: '1m',
        x: 'v',
      }),
    ).toBe('a{w="5m"}[1m] v $unknown');
  });

  it('provision the Prometheus datasource and the dashboards folder', () => {
    const ds = parse(
      readFileSync(path.join(root, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as { datasources: Array<{ uid: string; type: string; url: string }> };
    expect(ds.datasources[0]).toMatchObject({
      uid: 'finsentry-prometheus',
      type: 'prometheus',
      url: 'http://prometheus:9090',
    });
    const provider = parse(
      readFileSync(path.join(root, 'grafana/provisioning/dashboards/finsentry.yml'), 'utf8'),
    ) as { providers: Array<{ options: { path: string } }> };
    expect(provider.providers[0]!.options.path).toBe('/var/lib/grafana/dashboards');
  });
});
