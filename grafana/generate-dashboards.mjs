#!/usr/bin/env node
// Writes grafana/dashboards/*.json — pipeline health, sentiment by group, fairness, drift, alerts —
// from the panel lists below, so that layout, datasource and variables stay uniform; the same files go
// to k8s/base/grafana/ (the kustomize base ships them as ConfigMaps labelled grafana_dashboard=1).
// Dimension, window, job and namespace variables come from label_values(...) of the exported series,
// so custom dimensions and windows (24h) appear without editing the dashboards.
// `--check` exits 1 when a committed dashboard differs from what this script generates.
// Every query uses metrics of src/telemetry/metrics.ts (checked by test/unit/telemetry/dashboards.test.ts).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const outDirs = [
  fileURLToPath(new URL('./dashboards/', import.meta.url)),
  fileURLToPath(new URL('../k8s/base/grafana/', import.meta.url)),
];
const DS = { type: 'prometheus', uid: '${datasource}' };

const datasourceVar = {
  name: 'datasource',
  label: 'Data source',
  type: 'datasource',
  query: 'prometheus',
  current: { text: 'Prometheus', value: 'finsentry-prometheus' },
  hide: 0,
};

/** A variable whose values are the label values Prometheus has (`label_values(metric, label)`). */
function queryVar(name, label, query, current, all = false) {
  return {
    name,
    label,
    type: 'query',
    datasource: DS,
    definition: query,
    query: { query, refId: `${name}-values` },
    refresh: 2, // on time range change: new dimensions, windows and replicas appear
    sort: 1,
    current: { text: current, value: current },
    ...(all ? { includeAll: true, allValue: '.*', multi: true } : {}),
    hide: 0,
  };
}

const jobVar = queryVar('job', 'Job', 'label_values(finsentry_documents_consumed_total, job)', 'All', true);
const namespaceVar = queryVar(
  'namespace',
  'Namespace',
  'label_values(finsentry_documents_consumed_total, namespace)',
  'All',
  true,
);
const windowVar = queryVar('window', 'Window', 'label_values(finsentry_group_documents, window)', '5m');
// Bounded dimensions export every group; unbounded ones (issuer, ticker) their top-K plus "other".
const dimensionVar = queryVar(
  'dimension',
  'Dimension',
  'label_values(finsentry_group_documents, dimension)',
  'region',
);
const fairnessDimensionVar = queryVar(
  'fairness_dimension',
  'Dimension',
  'label_values(finsentry_fairness_disparate_impact_ratio, dimension)',
  'region',
);

/** Every finsentry series of a query restricted to the selected job(s) and namespace(s). */
function scoped(expr) {
  return expr.replace(/\b(finsentry_[a-z0-9_]+)(\{)?/g, (_m, metric, brace) =>
    brace
      ? `${metric}{job=~"$job",namespace=~"$namespace",`
      : `${metric}{job=~"$job",namespace=~"$namespace"}`,
  );
}

/** A panel: [title, type, targets, unit, width] — laid out left to right, two per row by default. */
function panels(specs) {
  let x = 0;
  let y = 0;
  return specs.map((s, i) => {
    const w = s.w ?? 12;
    const h = s.h ?? 8;
    if (x + w > 24) {
      x = 0;
      y += h;
    }
    const panel = {
      id: i + 1,
      title: s.title,
      description: s.description ?? '',
      type: s.type ?? 'timeseries',
      datasource: DS,
      gridPos: { x, y, w, h },
      targets: s.targets.map(([expr, legendFormat], j) => ({
        refId: String.fromCharCode(65 + j),
        datasource: DS,
        expr: scoped(expr),
        legendFormat: legendFormat ?? '',
        ...(s.type === 'table' ? { instant: true, format: 'table' } : {}),
      })),
      fieldConfig: {
        defaults: { unit: s.unit ?? 'short', ...(s.thresholds ? { thresholds: s.thresholds } : {}) },
        overrides: [],
      },
      options:
        s.type === 'table'
          ? { showHeader: true }
          : { legend: { displayMode: 'table', placement: 'right', calcs: ['lastNotNull', 'max'] } },
    };
    x += w;
    return panel;
  });
}

function dashboard(uid, title, description, variables, specs) {
  return {
    uid,
    title,
    description,
    tags: ['finsentry'],
    timezone: 'utc',
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: '10s',
    time: { from: 'now-1h', to: 'now' },
    templating: { list: [datasourceVar, jobVar, namespaceVar, ...variables] },
    annotations: { list: [] },
    links: [{ title: 'finsentry', type: 'dashboards', tags: ['finsentry'], asDropdown: true }],
    panels: panels(specs),
  };
}

const red = (value) => ({
  mode: 'absolute',
  steps: [
    { color: 'green', value: null },
    { color: 'red', value },
  ],
});
const redBelow = (value) => ({
  mode: 'absolute',
  steps: [
    { color: 'red', value: null },
    { color: 'green', value },
  ],
});

const dashboards = {
  'finsentry-pipeline.json': dashboard(
    'finsentry-pipeline',
    'finsentry / Pipeline health',
    'Throughput, dead letters, lag, latency of each stage, batching and models.',
    [],
    [
      {
        title: 'Documents consumed /s by topic',
        unit: 'ops',
        targets: [
          ['sum by (topic) (rate(finsentry_documents_consumed_total[$__rate_interval]))', '{{topic}}'],
        ],
      },
      {
        title: 'Documents processed /s by kind',
        unit: 'ops',
        targets: [
          ['sum by (kind) (rate(finsentry_documents_processed_total[$__rate_interval]))', '{{kind}}'],
        ],
      },
      {
        title: 'Dead letters /s by reason',
        unit: 'ops',
        targets: [['sum by (reason) (rate(finsentry_dlq_messages_total[$__rate_interval]))', '{{reason}}']],
      },
      {
        title: 'Consumer lag by topic',
        unit: 'short',
        targets: [
          ['sum by (topic) (max by (topic, partition) (finsentry_consumer_lag_messages))', '{{topic}}'],
        ],
      },
      {
        title: 'Stage latency p95',
        unit: 's',
        targets: [
          [
            'histogram_quantile(0.95, sum by (le, stage) (rate(finsentry_stage_duration_seconds_bucket[$__rate_interval])))',
            '{{stage}}',
          ],
        ],
      },
      {
        title: 'Inference latency per batch',
        unit: 's',
        targets: [
          [
            'histogram_quantile(0.5, sum by (le, task) (rate(finsentry_inference_duration_seconds_bucket[$__rate_interval])))',
            'p50 {{task}}',
          ],
          [
            'histogram_quantile(0.99, sum by (le, task) (rate(finsentry_inference_duration_seconds_bucket[$__rate_interval])))',
            'p99 {{task}}',
          ],
        ],
      },
      {
        title: 'Batch size (documents)',
        unit: 'short',
        targets: [
          [
            'histogram_quantile(0.5, sum by (le) (rate(finsentry_batch_size_documents_bucket[$__rate_interval])))',
            'p50',
          ],
          [
            'sum(rate(finsentry_batch_size_documents_sum[$__rate_interval])) / sum(rate(finsentry_batch_size_documents_count[$__rate_interval]))',
            'mean',
          ],
        ],
      },
      {
        title: 'Padding share of token positions',
        unit: 'percentunit',
        targets: [
          [
            'sum(rate(finsentry_batch_token_positions_total{type="padding"}[$__rate_interval])) / sum(rate(finsentry_batch_token_positions_total[$__rate_interval]))',
            'padding',
          ],
        ],
      },
      {
        title: 'Event-time lag p95',
        unit: 's',
        targets: [
          [
            'histogram_quantile(0.95, sum by (le) (rate(finsentry_event_time_lag_seconds_bucket[$__rate_interval])))',
            'p95',
          ],
        ],
      },
      {
        title: 'Redis latency p99 by operation',
        unit: 's',
        targets: [
          [
            'histogram_quantile(0.99, sum by (le, operation) (rate(finsentry_redis_duration_seconds_bucket[$__rate_interval])))',
            '{{operation}}',
          ],
        ],
      },
      {
        title: 'Late events (excluded from windows) /s',
        unit: 'ops',
        targets: [['sum(rate(finsentry_late_events_total[$__rate_interval]))', 'late']],
      },
      {
        title: 'Seconds since last committed batch',
        unit: 's',
        thresholds: red(120),
        targets: [['time() - max(finsentry_last_batch_timestamp_seconds)', 'since last batch']],
      },
      {
        title: 'Loaded models',
        type: 'table',
        w: 24,
        h: 6,
        targets: [['max by (task, name, version, sha256) (finsentry_model_info)', '']],
      },
    ],
  ),
  'finsentry-sentiment.json': dashboard(
    'finsentry-sentiment',
    'finsentry / Sentiment by group',
    'Per-group sentiment of bounded dimensions and the top-K groups of unbounded ones (issuer, ticker); all other groups are summed in "other".',
    [dimensionVar, windowVar],
    [
      {
        title: 'Negative share by $dimension ($window)',
        unit: 'percentunit',
        targets: [
          [
            'max by (group) (finsentry_group_negative_ratio{dimension="$dimension",window="$window"})',
            '{{group}}',
          ],
        ],
      },
      {
        title: 'Documents by $dimension ($window)',
        unit: 'short',
        targets: [
          [
            'max by (group) (finsentry_group_documents{dimension="$dimension",window="$window"})',
            '{{group}}',
          ],
        ],
      },
      {
        title: 'Mean polarity by $dimension ($window)',
        unit: 'short',
        targets: [
          [
            'max by (group) (finsentry_group_mean_polarity{dimension="$dimension",window="$window"})',
            '{{group}}',
          ],
        ],
      },
      {
        title: 'Negative share z vs reference ($window)',
        unit: 'short',
        thresholds: red(3.09),
        targets: [
          [
            'max by (group) (finsentry_group_negative_share_zscore{dimension="$dimension",window="$window"})',
            '{{group}}',
          ],
        ],
      },
      {
        title: 'Accuracy by $dimension ($window): realised (labels) and estimated (CBPE)',
        description:
          'Realised accuracy over documents with a joined label and the CBPE estimate (mean calibrated confidence) over all predictions; read label coverage beside them (issue #19, docs/runbooks.md#accuracydrop).',
        unit: 'percentunit',
        targets: [
          [
            'max by (group) (finsentry_group_accuracy_ratio{dimension="$dimension",window="$window"})',
            '{{group}} realised',
          ],
          [
            'max by (group) (finsentry_group_estimated_accuracy_ratio{dimension="$dimension",window="$window"})',
            '{{group}} estimated',
          ],
        ],
      },
      {
        title: 'Label coverage (labelled / predicted) by $dimension ($window)',
        unit: 'percentunit',
        targets: [
          [
            'max by (group) (finsentry_group_label_coverage_ratio{dimension="$dimension",window="$window"})',
            '{{group}}',
          ],
        ],
      },
      {
        title: 'Top issuers: negative share (5m)',
        type: 'table',
        w: 24,
        targets: [['max by (group) (finsentry_group_negative_ratio{dimension="issuer",window="5m"})', '']],
      },
    ],
  ),
  'finsentry-fairness.json': dashboard(
    'finsentry-fairness',
    'finsentry / Fairness',
    'Whether the model treats groups differently: rate = share of negative predictions; groups below min_samples are not judged.',
    [fairnessDimensionVar, windowVar],
    [
      {
        title: 'Disparate impact ratio (min/max) by dimension',
        unit: 'short',
        thresholds: redBelow(0.8),
        targets: [
          [
            'max by (dimension) (finsentry_fairness_disparate_impact_ratio{window="$window"})',
            '{{dimension}}',
          ],
        ],
      },
      {
        title: 'Demographic parity difference (max - min)',
        unit: 'percentunit',
        targets: [
          [
            'max by (dimension) (finsentry_fairness_demographic_parity_difference{window="$window"})',
            '{{dimension}}',
          ],
        ],
      },
      {
        title: 'Worst group |z| vs the rest',
        unit: 'short',
        thresholds: red(3),
        targets: [
          ['max by (dimension) (finsentry_fairness_worst_group_zscore{window="$window"})', '{{dimension}}'],
        ],
      },
      {
        title: 'Significantly deviating groups / judged groups',
        unit: 'short',
        targets: [
          [
            'max by (dimension) (finsentry_fairness_breaching_groups{window="$window"})',
            'breaching {{dimension}}',
          ],
          ['max by (dimension) (finsentry_fairness_judged_groups{window="$window"})', 'judged {{dimension}}'],
        ],
      },
      {
        title: 'Equalized odds difference (labels) with its 95% interval',
        description:
          "Fairlearn's equalized odds difference of the joined labels and the bounds of its simultaneous interval; the EqualizedOddsRegion rule fires when the lower bound exceeds 0.25 (docs/runbooks.md#equalizedodds).",
        unit: 'short',
        thresholds: red(0.25),
        targets: [
          [
            'max by (dimension) (finsentry_fairness_equalized_odds_difference{window="$window"})',
            '{{dimension}}',
          ],
          [
            'max by (dimension, bound) (finsentry_fairness_equalized_odds_difference_bound{window="$window"})',
            '{{dimension}} {{bound}}',
          ],
        ],
      },
      {
        title: 'TPR and FPR by group and class of $fairness_dimension (labels)',
        unit: 'percentunit',
        targets: [
          [
            'max by (group, class) (finsentry_group_true_positive_rate{dimension="$fairness_dimension",window="$window"})',
            'TPR {{class}} {{group}}',
          ],
          [
            'max by (group, class) (finsentry_group_false_positive_rate{dimension="$fairness_dimension",window="$window"})',
            'FPR {{class}} {{group}}',
          ],
        ],
      },
      {
        title: 'Accuracy, estimated accuracy and label coverage by group of $fairness_dimension',
        w: 24,
        unit: 'percentunit',
        targets: [
          [
            'max by (group) (finsentry_group_accuracy_ratio{dimension="$fairness_dimension",window="$window"})',
            'realised {{group}}',
          ],
          [
            'max by (group) (finsentry_group_estimated_accuracy_ratio{dimension="$fairness_dimension",window="$window"})',
            'estimated {{group}}',
          ],
          [
            'max by (group) (finsentry_group_label_coverage_ratio{dimension="$fairness_dimension",window="$window"})',
            'coverage {{group}}',
          ],
        ],
      },
      {
        title: 'Negative share by group of $fairness_dimension',
        w: 24,
        unit: 'percentunit',
        targets: [
          [
            'max by (group) (finsentry_group_negative_ratio{dimension="$fairness_dimension",window="$window"})',
            '{{group}}',
          ],
        ],
      },
    ],
  ),
  'finsentry-drift.json': dashboard(
    'finsentry-drift',
    'finsentry / Drift',
    'Current window vs the reference (trailing window or captured baseline). PSI bands: 0.1 moderate, 0.25 significant.',
    [windowVar],
    [
      {
        title: 'PSI by feature',
        unit: 'short',
        thresholds: red(0.25),
        targets: [['max by (feature) (finsentry_drift_psi{window="$window"})', '{{feature}}']],
      },
      {
        title: 'Jensen-Shannon distance by feature',
        unit: 'short',
        targets: [['max by (feature) (finsentry_drift_js_distance{window="$window"})', '{{feature}}']],
      },
      {
        title: 'Kolmogorov-Smirnov statistic (numeric features)',
        unit: 'short',
        targets: [['max by (feature) (finsentry_drift_ks_statistic{window="$window"})', '{{feature}}']],
      },
      {
        title: 'Current PSI',
        type: 'table',
        targets: [['max by (feature, window) (finsentry_drift_psi)', '']],
      },
    ],
  ),
  'finsentry-alerts.json': dashboard(
    'finsentry-alerts',
    'finsentry / Alerts',
    'Alerts of the built-in evaluator (finsentry.alerts topic) and of the Prometheus rules (k8s/prometheus/rules.yml).',
    [],
    [
      {
        title: 'Evaluator alerts by rule and state',
        unit: 'short',
        targets: [['sum by (rule, state) (finsentry_alerts)', '{{rule}} {{state}}']],
      },
      {
        title: 'Alert state changes (last hour)',
        unit: 'short',
        targets: [
          ['sum by (rule, state) (increase(finsentry_alert_transitions_total[1h]))', '{{rule}} → {{state}}'],
        ],
      },
      {
        title: 'Prometheus alerts active during the range',
        type: 'table',
        targets: [
          ['max by (alertname, severity) (max_over_time(ALERTS{alertname=~"Finsentry.*"}[$__range]))', ''],
        ],
      },
      {
        title: 'Evaluator runs /s by outcome',
        unit: 'ops',
        targets: [['sum by (outcome) (rate(finsentry_evaluations_total[$__rate_interval]))', '{{outcome}}']],
      },
      {
        title: 'Evaluator leader and fencing token',
        unit: 'short',
        targets: [
          ['sum(finsentry_evaluator_leader)', 'leaders'],
          ['max(finsentry_evaluator_fencing_token)', 'fencing token'],
        ],
      },
      {
        title: 'Evaluation time p95',
        unit: 's',
        targets: [
          [
            'histogram_quantile(0.95, sum by (le) (rate(finsentry_evaluation_duration_seconds_bucket[$__rate_interval])))',
            'p95',
          ],
        ],
      },
    ],
  ),
};

const check = process.argv.includes('--check');
let stale = 0;
for (const [file, dash] of Object.entries(dashboards)) {
  const text = `${JSON.stringify(dash, null, 2)}\n`;
  for (const outDir of outDirs) {
    const path = `${outDir}${file}`;
    if (check) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        /* missing counts as stale */
      }
      if (current !== text) {
        process.stderr.write(`${path} is out of date; run node grafana/generate-dashboards.mjs\n`);
        stale++;
      }
    } else {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(path, text);
    }
  }
}
process.exit(stale > 0 ? 1 : 0);
