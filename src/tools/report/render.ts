import { formatDuration } from '../../config/duration.js';
import type {
  ReportAlertEpisode,
  ReportData,
  ReportDimension,
  ReportDrift,
  ReportInterval,
  ReportLabelled,
} from './types.js';

/**
 * The model-risk report as one self-contained HTML file: data, styles, the charting library
 * (Chart.js UMD bundle, passed in by the caller) and the chart code are all inline, and a
 * Content-Security-Policy forbids the page to load anything else, so it opens from disk, in a mail
 * attachment or an air-gapped review room. Tables carry every number the charts show (accessible,
 * printable, and greppable); charts are drawn on load from the embedded JSON.
 *
 * Pure: same data and library source, same bytes.
 */
export interface RenderOptions {
  /** Source of the Chart.js UMD bundle (chart.umd.min.js), inlined into the page. */
  chartJsSource: string;
}

/** DI below this breaches the four-fifths rule (design §5, §7). */
const FOUR_FIFTHS = 0.8;
const PSI_BANDS = { moderate: 0.1, significant: 0.25 } as const;

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** JSON safe inside <script>: no "</script>", no HTML comment openers, no JS line separators. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A script body cannot contain "</script" (case-insensitive); a library bundle never needs it literally. */
function scriptSafe(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1');
}

function iso(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '—';
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

function num(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

function pct(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(v * 100).toFixed(digits)}%`;
}

function pValue(p: number | null): string {
  if (p === null || !Number.isFinite(p)) return '—';
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}

function rateLabel(rate: ReportData['rate']): string {
  return rate === 'negative_share'
    ? 'share of negative predictions'
    : rate === 'positive_share'
      ? 'share of positive predictions'
      : 'mean polarity';
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function anchor(dimension: string): string {
  return `dim-${dimension.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

function summaryCards(data: ReportData): string {
  const cards: string[] = [];
  cards.push(
    card(
      'Documents in window',
      data.totalDocuments.toLocaleString('en-US'),
      `${data.lateObservations.toLocaleString('en-US')} late (excluded)`,
      'neutral',
    ),
  );
  // Parity cards only for fairness dimensions (config fairness.dimensions): never issuers or tickers.
  for (const d of data.dimensions.filter((x) => x.fairness)) {
    const di = d.disparateImpactRatio;
    const status = di === null ? 'neutral' : di < FOUR_FIFTHS ? 'bad' : 'good';
    const detail =
      di === null
        ? 'fewer than two judged groups'
        : `95% CI ${interval(d.disparateImpactInterval, 2)} · min ${d.minGroup ?? '—'} / max ${d.maxGroup ?? '—'}`;
    cards.push(
      card(`Disparate impact · ${d.dimension}`, num(di, 2), detail, status, `#${anchor(d.dimension)}`),
    );
  }
  if (data.drift) {
    const worst = data.drift.features.filter((f) => f.psi !== null).sort((a, b) => b.psi! - a.psi!)[0];
    const status = !worst
      ? 'neutral'
      : worst.psi! >= PSI_BANDS.significant
        ? 'bad'
        : worst.psi! >= PSI_BANDS.moderate
          ? 'warn'
          : 'good';
    cards.push(
      card(
        'Largest drift (PSI)',
        worst ? num(worst.psi, 3) : '—',
        worst ? worst.feature : 'no features',
        status,
        '#drift',
      ),
    );
  }
  const active = data.alerts.episodes.filter((e) => e.state === 'firing' || e.state === 'pending').length;
  cards.push(
    card(
      'Alerts',
      data.alerts.available ? String(data.alerts.episodes.length) : 'n/a',
      data.alerts.available ? `${active} active at report time` : 'alert history unavailable',
      !data.alerts.available ? 'neutral' : active > 0 ? 'bad' : 'good',
      '#alerts',
    ),
  );
  return `<section class="cards">${cards.join('')}</section>`;
}

function interval(i: ReportInterval | null, digits = 3): string {
  return i ? `${num(i.low, digits)}–${num(i.high, digits)}` : '—';
}

/** The "what this means" line under a section: the figures in one plain sentence for a reviewer. */
function meaning(text: string): string {
  return `<p class="meaning"><b>What this means:</b> ${text}</p>`;
}

function card(
  title: string,
  value: string,
  detail: string,
  status: 'good' | 'warn' | 'bad' | 'neutral',
  href?: string,
): string {
  const body = `<div class="card-title">${escapeHtml(title)}</div><div class="card-value">${escapeHtml(value)}</div><div class="card-detail">${escapeHtml(detail)}</div>`;
  return href
    ? `<a class="card ${status}" href="${escapeHtml(href)}">${body}</a>`
    : `<div class="card ${status}">${body}</div>`;
}

function alertsSection(data: ReportData): string {
  const a = data.alerts;
  let body: string;
  if (!a.available) {
    body = `<p class="note">Alert history could not be read: ${escapeHtml(a.source)}.</p>`;
  } else if (a.episodes.length === 0) {
    body = `<p>No alert episodes in ${escapeHtml(a.source)}.</p>`;
  } else {
    const rows = a.episodes.map((e) => alertRow(e)).join('');
    body = `<p class="explain">Episodes of every alert (grey: pending, coloured by severity: firing), stamped with the evaluator's clock; the most recent ${a.episodes.length} episode(s).</p>
<div class="chart" style="height:${Math.min(700, 110 + a.episodes.length * 34)}px"><canvas id="alert-timeline" role="img" aria-label="Alert timeline"></canvas></div>
<table><thead><tr><th>Rule</th><th>Severity</th><th>Dimension / group</th><th>Metric</th><th class="r">Value</th><th class="r">Threshold</th><th>State</th><th>Pending</th><th>Firing</th><th>Resolved</th><th>Summary</th></tr></thead><tbody>${rows}</tbody></table>
<p class="source">Source: ${escapeHtml(a.source)}.</p>`;
  }
  const active = a.episodes.filter((e) => e.state === 'firing').length;
  const means = !a.available
    ? 'the alert history is unknown for this report; check the alerts topic before relying on the absence of alerts.'
    : a.episodes.length === 0
      ? 'no rule crossed its threshold in the history read.'
      : `${a.episodes.length} alert episode(s), ${active} still firing: each firing episode is a threshold crossed with statistical significance for at least the rule's "for" duration; its runbook says what to check.`;
  return `<section id="alerts"><h2>Alert timeline</h2>${body}${meaning(escapeHtml(means))}</section>`;
}

function alertRow(e: ReportAlertEpisode): string {
  const rule = e.runbookUrl
    ? `<a href="${escapeHtml(e.runbookUrl)}" rel="noopener noreferrer">${escapeHtml(e.rule)}</a>`
    : escapeHtml(e.rule);
  const where = e.dimension
    ? `${escapeHtml(e.dimension)}${e.group ? ` = <b>${escapeHtml(e.group)}</b>` : ''}`
    : '—';
  return `<tr class="sev-${e.severity}"><td>${rule}</td><td>${escapeHtml(e.severity)}</td><td>${where}</td><td>${escapeHtml(e.metric)}</td><td class="r">${num(e.value, 3)}</td><td class="r">${num(e.threshold, 3)}</td><td><span class="state ${e.state}">${escapeHtml(e.state)}</span></td><td>${iso(e.startedAtMs)}</td><td>${iso(e.firingAtMs)}</td><td>${iso(e.endedAtMs)}</td><td>${escapeHtml(e.summary)}</td></tr>`;
}

function dimensionSection(d: ReportDimension, i: number, data: ReportData): string {
  const rows = d.groups
    .map((g) => {
      const significant = g.judged && g.pValueVsRest !== null && g.pValueVsRest < 0.01;
      const cls = !g.judged ? 'unjudged' : significant ? 'flag' : '';
      return `<tr class="${cls}"><td>${escapeHtml(g.group)}</td><td class="r">${g.n.toLocaleString('en-US')}</td><td class="r">${g.successes.toLocaleString('en-US')}</td><td class="r">${data.rate === 'mean_polarity' ? num(g.rate) : pct(g.rate)}</td><td class="r">${g.wilsonLow === null ? '—' : `${pct(g.wilsonLow)} – ${pct(g.wilsonHigh)}`}</td><td class="r">${g.diffVsRest === null ? '—' : `${g.diffVsRest >= 0 ? '+' : ''}${(g.diffVsRest * 100).toFixed(1)} pp`}</td><td class="r">${pValue(g.pValueVsRest)}</td><td class="r">${num(g.meanPolarity, 2)}</td><td class="r">${num(g.meanConfidence, 2)}</td><td>${g.judged ? 'yes' : `no (n &lt; ${d.minSamples})`}</td></tr>`;
    })
    .join('');
  const omitted = d.omittedGroups > 0 ? ` ${d.omittedGroups} smaller group(s) not shown.` : '';
  const fragments = d.excludedFragments.length
    ? ` ${d.excludedFragments.length} value(s) left out as NER fragments (1–2 characters or stop words): ${escapeHtml(d.excludedFragments.slice(0, 12).join(', '))}${d.excludedFragments.length > 12 ? ', …' : ''}.`
    : '';
  const table = `<table><thead><tr><th>Group</th><th class="r">n</th><th class="r">${data.rate === 'positive_share' ? 'Positive' : 'Negative'}</th><th class="r">Rate</th><th class="r">95% Wilson</th><th class="r">vs rest</th><th class="r">p (z-test)</th><th class="r">Mean polarity</th><th class="r">Mean confidence</th><th>Judged</th></tr></thead><tbody>${rows}</tbody></table>`;
  const groupsPart = d.fairness
    ? fairnessPart(d, i, data, `${omitted}${fragments}`, table)
    : `<h3>Groups</h3>
<p class="explain">${escapeHtml(capitalised(rateLabel(data.rate)))} per group with its 95% Wilson interval. <code>${escapeHtml(d.dimension)}</code> is not a fairness dimension (config <code>fairness.dimensions</code>): its groups are what the documents are about, so no parity figure is computed.${omitted}${fragments}</p>
${table}
${meaning(`a group well above the rest (small p) is being talked about more negatively — a market signal to read with the surge alerts, not a model bias.`)}`;
  return `<section id="${anchor(d.dimension)}" class="dimension">
<h2>Dimension <code>${escapeHtml(d.dimension)}</code></h2>
<h3>Sentiment over time</h3>
<p class="explain">Share of negative predictions over a trailing ${escapeHtml(formatDuration(data.smoothMs))} (in ${escapeHtml(formatDuration(data.bucketMs))} buckets) for the largest groups; ◆ marks a Page–Hinkley change alarm on the group's negative rate.</p>
<div class="chart"><canvas id="series-${i}" role="img" aria-label="Negative share over time by ${escapeHtml(d.dimension)}"></canvas></div>
${groupsPart}
${labelledPart(d.labelled)}
</section>`;
}

function fairnessPart(d: ReportDimension, i: number, data: ReportData, extra: string, table: string): string {
  const di = d.disparateImpactRatio;
  const verdict =
    di === null
      ? 'Not judged: fewer than two groups reach min_samples.'
      : di < FOUR_FIFTHS
        ? `<b class="bad-text">Four-fifths rule breached</b>: disparate impact ratio ${num(di, 3)} (${escapeHtml(d.minGroup ?? '')} vs ${escapeHtml(d.maxGroup ?? '')}).`
        : `Disparate impact ratio ${num(di, 3)} is within the four-fifths rule.`;
  const ci =
    di === null
      ? ''
      : ` 95% intervals: disparate impact ${interval(d.disparateImpactInterval)}, parity difference ${interval(d.parityDifferenceInterval)} (between the min and max groups).`;
  const means =
    di === null
      ? 'too few documents per group to judge parity in this window.'
      : di < FOUR_FIFTHS && d.disparateImpactInterval && d.disparateImpactInterval.high < FOUR_FIFTHS
        ? `the model labels ${escapeHtml(d.maxGroup ?? '')} documents negative markedly more often than ${escapeHtml(d.minGroup ?? '')} ones, and the whole interval is below 0.8: check whether the texts differ or the model does (labelled metrics below, if any).`
        : di < FOUR_FIFTHS
          ? 'the point estimate breaches the four-fifths rule but the interval reaches 0.8: the gap may be noise; watch it over a longer window.'
          : 'negative predictions are spread across groups within the four-fifths rule.';
  return `<h3>Fairness gaps</h3>
<p class="explain">${escapeHtml(capitalised(rateLabel(data.rate)))} per group over the window with its 95% Wilson interval (bar) and point estimate (◆); the dashed line is the rate over all groups. Demographic parity difference ${num(d.demographicParityDifference, 3)}. ${verdict}${ci}${extra}</p>
<div class="chart"><canvas id="fairness-${i}" role="img" aria-label="Fairness by ${escapeHtml(d.dimension)}"></canvas></div>
${table}
${meaning(means)}`;
}

const RATE_CLASSES = ['negative', 'neutral', 'positive'] as const;

/** TPR / FPR cells of every class, in RATE_CLASSES order. */
function classRateCells(g: ReportLabelled['groups'][number]): string {
  return RATE_CLASSES.map((c) => {
    const r = g.classRates.find((x) => x.label === c);
    return `<td class="r">${pct(r?.tpr ?? null)}</td><td class="r">${pct(r?.fpr ?? null)}</td>`;
  }).join('');
}

function equalizedOddsLine(l: ReportLabelled): string {
  const iv = l.equalizedOddsInterval;
  if (!iv) return '';
  return ` <span class="eod-interval">95% simultaneous interval ${num(iv.low, 3)} – ${num(iv.high, 3)}; widest gap: ${iv.worstRate.toUpperCase()} of ${escapeHtml(iv.worstClass)}, ${escapeHtml(iv.decidingPair[0])} vs ${escapeHtml(iv.decidingPair[1])}.</span>`;
}

function labelledPart(l: ReportLabelled | null): string {
  if (!l) return '';
  const rows = l.groups
    .map(
      (g) =>
        `<tr class="${g.judged ? '' : 'unjudged'}"><td>${escapeHtml(g.group)}</td><td class="r">${g.labelled.toLocaleString('en-US')}</td><td class="r">${pct(g.coverage)}</td><td class="r">${pct(g.accuracy)}</td><td class="r">${g.accuracyLow === null ? '—' : `${pct(g.accuracyLow)} – ${pct(g.accuracyHigh)}`}</td><td class="r">${pct(g.estimatedAccuracy)}</td>${classRateCells(g)}<td>${g.judged ? 'yes' : 'no'}</td></tr>`,
    )
    .join('');
  const rateHeads = RATE_CLASSES.map((c) => `<th class="r">TPR ${c}</th><th class="r">FPR ${c}</th>`).join(
    '',
  );
  const means =
    l.coverage !== null && l.coverage < 0.05
      ? `only ${pct(l.coverage)} of the documents have a label: the labelled figures describe a small sample; read the intervals.`
      : `accuracy differs by ${pct(l.accuracyGap)} between groups and the equalized odds difference is ${num(l.equalizedOddsDifference, 3)}: the larger these are, the more the model's errors fall on some groups rather than others.`;
  return `<h3>Labelled metrics</h3>
<p class="explain">Predictions joined to human labels in the window: ${l.labelled.toLocaleString('en-US')} labelled documents (${pct(l.coverage)} label coverage). Realised accuracy is over the labelled documents; estimated accuracy (mean calibrated confidence, CBPE) is over all of the group's predictions, labelled or not. Equalized odds difference ${num(l.equalizedOddsDifference, 3)}, accuracy gap ${num(l.accuracyGap, 3)}.${equalizedOddsLine(l)}</p>
<table class="labelled"><thead><tr><th>Group</th><th class="r">Labelled</th><th class="r">Coverage</th><th class="r">Accuracy</th><th class="r">95% Wilson</th><th class="r">Estimated accuracy</th>${rateHeads}<th>Judged</th></tr></thead><tbody>${rows}</tbody></table>
${meaning(means)}`;
}

function driftSection(drift: ReportDrift | null): string {
  if (!drift)
    return `<section id="drift"><h2>Drift</h2><p class="note">No reference available (no captured baseline and no data before the window).</p></section>`;
  const rows = drift.features
    .map((f) => {
      const band =
        f.psi === null
          ? ''
          : f.psi >= PSI_BANDS.significant
            ? 'flag'
            : f.psi >= PSI_BANDS.moderate
              ? 'warn'
              : '';
      return `<tr class="${band}"><td>${escapeHtml(f.feature)}</td><td>${f.kind}</td><td class="r">${num(f.psi, 4)}</td><td class="r">${num(f.jensenShannon, 4)}</td><td class="r">${num(f.ksStatistic, 4)}</td><td class="r">${pValue(f.ksPValue)}</td><td class="r">${pValue(f.chiSquarePValue)}</td><td class="r">${f.currentN.toLocaleString('en-US')}</td><td class="r">${f.referenceN.toLocaleString('en-US')}</td></tr>`;
    })
    .join('');
  const ref =
    drift.referenceKind === 'baseline'
      ? `captured baseline <code>${escapeHtml(drift.referenceName ?? '')}</code> (${iso(drift.referenceStartMs)} – ${iso(drift.referenceEndMs)})`
      : `the trailing window ${iso(drift.referenceStartMs)} – ${iso(drift.referenceEndMs)}`;
  return `<section id="drift"><h2>Drift vs reference</h2>
<p class="explain">Each feature of the window against ${ref}, ${drift.referenceDocuments.toLocaleString('en-US')} reference documents. PSI bands: &lt; ${PSI_BANDS.moderate} stable, ${PSI_BANDS.moderate}–${PSI_BANDS.significant} moderate, ≥ ${PSI_BANDS.significant} significant shift. Jensen–Shannon distance base 2; KS on binned numeric features; χ² homogeneity for categorical mixes.</p>
<div class="chart" style="height:${Math.max(220, 40 + drift.features.length * 24)}px"><canvas id="drift-chart" role="img" aria-label="PSI by feature"></canvas></div>
${meaning(driftMeaning(drift))}
<table><thead><tr><th>Feature</th><th>Kind</th><th class="r">PSI</th><th class="r">JS distance</th><th class="r">KS</th><th class="r">KS p</th><th class="r">χ² p</th><th class="r">n current</th><th class="r">n reference</th></tr></thead><tbody>${rows}</tbody></table>
</section>`;
}

function driftMeaning(drift: ReportDrift): string {
  const shifted = drift.features.filter((f) => f.psi !== null && f.psi >= PSI_BANDS.significant);
  return shifted.length === 0
    ? 'the traffic looks like the reference: the model sees the kind of text it saw before.'
    : `${escapeHtml(shifted.map((f) => f.feature).join(', '))} shifted significantly: the model now sees different text than in the reference, so its validated accuracy may no longer hold.`;
}

const STYLE = `
:root{--fg:#1d2330;--muted:#5b6474;--line:#dde2ea;--bg:#f6f7f9;--good:#1a7f4b;--warn:#b26b00;--bad:#b42318;--accent:#2f5bd3}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line);padding:20px 32px}header h1{margin:0 0 6px;font-size:22px}
.meta{color:var(--muted);display:flex;flex-wrap:wrap;gap:4px 22px}main{padding:16px 32px 48px;max-width:1400px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:16px 0}
h2{font-size:18px;margin:0 0 8px}h3{font-size:15px;margin:18px 0 4px}.explain,.source{color:var(--muted);margin:4px 0 10px}
.meaning{margin:6px 0 4px;padding:6px 10px;border-left:3px solid var(--accent);background:#f3f6fd}
.note{background:#fff8e6;border:1px solid #f0d9a0;border-radius:6px;padding:8px 12px}
.cards{display:flex;flex-wrap:wrap;gap:12px;background:none;border:0;padding:0}
.card{flex:1 1 180px;background:#fff;border:1px solid var(--line);border-left:5px solid var(--line);border-radius:8px;padding:10px 14px;color:inherit;text-decoration:none}
.card.good{border-left-color:var(--good)}.card.warn{border-left-color:var(--warn)}.card.bad{border-left-color:var(--bad)}
.card-title{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}.card-value{font-size:24px;font-weight:600}.card-detail{color:var(--muted);font-size:12px}
.chart{position:relative;height:300px;margin:8px 0 14px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f6;font-weight:600}td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}
tr.flag td{background:#fdecea}tr.warn td{background:#fff6e0}tr.unjudged td{color:var(--muted)}.bad-text{color:var(--bad)}
.state{padding:1px 6px;border-radius:10px;font-size:12px;background:#eef}.state.firing{background:#fdecea;color:var(--bad)}.state.pending{background:#fff6e0;color:var(--warn)}.state.resolved{background:#e8f5ee;color:var(--good)}
code{background:#f0f2f6;padding:0 4px;border-radius:3px}footer{color:var(--muted);padding:0 32px 32px;font-size:12px}
nav a{margin-right:14px;color:var(--accent)}
@media print{body{background:#fff}section{break-inside:avoid;border:0}.chart{height:260px}}
`;

/** Client code: builds the charts from the embedded JSON. Plain ES2017, no network, no animation. */
const CLIENT_SCRIPT = `
(function(){
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  if (typeof Chart === 'undefined') { throw new Error('Chart.js did not load'); }
  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif';
  Chart.defaults.maintainAspectRatio = false;
  var palette = ['#2f5bd3','#d1495b','#edae49','#00798c','#66a182','#8d5fd3','#e07a5f','#3d405b','#81b29a','#f2cc8f'];
  var span = data.windowEndMs - data.windowStartMs;
  function timeLabel(v){ var d = new Date(v); var s = d.toISOString(); return span > 2*86400000 ? s.slice(5,16).replace('T',' ') : s.slice(11,16); }
  function pct(v){ return (v*100).toFixed(0) + '%'; }
  // Negative share over a trailing span of buckets (SMOOTH_MS of event time): one-bucket shares of a
  // small group are mostly noise. Empty spans stay gaps.
  var smoothBuckets = Math.max(1, Math.round(data.smoothMs / data.bucketMs));
  function rolling(points){
    var out = [], n = 0, neg = 0;
    for (var k = 0; k < points.length; k++) {
      var p = points[k];
      n += p.n; neg += p.negativeShare === null ? 0 : p.negativeShare * p.n;
      if (k >= smoothBuckets) { var q = points[k - smoothBuckets]; n -= q.n; neg -= q.negativeShare === null ? 0 : q.negativeShare * q.n; }
      out.push({ x: p.t, y: n > 0 ? Math.max(0, Math.min(1, neg / n)) : null });
    }
    return out;
  }
  var timeAxis = { type: 'linear', min: data.windowStartMs, max: data.windowEndMs, ticks: { callback: timeLabel, maxTicksLimit: 10 }, title: { display: true, text: 'event time (UTC)' } };

  data.dimensions.forEach(function(dim, i){
    var series = document.getElementById('series-' + i);
    if (series) {
      var sets = dim.series.map(function(s, k){
        var color = palette[k % palette.length];
        return { label: s.group, borderColor: color, backgroundColor: color, borderWidth: 1.5, pointRadius: 0, tension: 0.2, spanGaps: false,
          data: rolling(s.points) };
      });
      dim.series.forEach(function(s, k){
        if (!s.changeAlarmsMs.length) return;
        var color = palette[k % palette.length];
        var byT = {}; rolling(s.points).forEach(function(p){ byT[p.x] = p.y; });
        sets.push({ label: s.group + ' change', type: 'scatter', showLine: false, pointStyle: 'rectRot', pointRadius: 6, borderColor: color, backgroundColor: color,
          data: s.changeAlarmsMs.map(function(t){ return { x: t, y: byT[t] == null ? 0 : byT[t] }; }) });
      });
      new Chart(series, { type: 'line', data: { datasets: sets },
        options: { parsing: false, normalized: true, interaction: { mode: 'nearest', intersect: false },
          scales: { x: timeAxis, y: { min: 0, max: 1, ticks: { callback: pct }, title: { display: true, text: 'negative share' } } },
          plugins: { legend: { position: 'right', labels: { boxWidth: 12, filter: function(item){ return !/ change$/.test(item.text); } } } } } });
    }
    var fair = document.getElementById('fairness-' + i);
    if (fair) {
      var groups = dim.groups;
      var total = 0, hits = 0; groups.forEach(function(g){ total += g.n; hits += g.successes; });
      var overall = total > 0 ? hits / total : 0;
      var pointColor = groups.map(function(g){ return !g.judged ? '#9aa3b2' : (g.pValueVsRest !== null && g.pValueVsRest < 0.01 ? '#b42318' : '#2f5bd3'); });
      new Chart(fair, { data: { labels: groups.map(function(g){ return g.group + ' (n=' + g.n + ')'; }), datasets: [
          { type: 'bar', label: '95% Wilson interval', data: groups.map(function(g){ return g.wilsonLow === null ? null : [g.wilsonLow, g.wilsonHigh]; }),
            backgroundColor: pointColor.map(function(c){ return c + '55'; }), borderColor: pointColor, borderWidth: 1, barPercentage: 0.5 },
          { type: 'line', label: 'rate', data: groups.map(function(g){ return g.rate; }), showLine: false, pointStyle: 'rectRot', pointRadius: 6,
            pointBackgroundColor: pointColor, pointBorderColor: pointColor },
          { type: 'line', label: 'all groups', data: groups.map(function(){ return overall; }), borderColor: '#5b6474', borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0 }
        ] },
        options: { scales: { y: { min: 0, suggestedMax: Math.min(1, Math.max.apply(null, groups.map(function(g){ return g.wilsonHigh || g.rate; }).concat([0.1])) * 1.15),
          ticks: { callback: pct } } }, plugins: { legend: { position: 'bottom' } } } });
    }
  });

  var drift = document.getElementById('drift-chart');
  if (drift && data.drift) {
    var feats = data.drift.features.filter(function(f){ return f.psi !== null; });
    new Chart(drift, { type: 'bar', data: { labels: feats.map(function(f){ return f.feature; }), datasets: [{ label: 'PSI', data: feats.map(function(f){ return f.psi; }),
        backgroundColor: feats.map(function(f){ return f.psi >= 0.25 ? '#b42318' : f.psi >= 0.1 ? '#e0a100' : '#1a7f4b'; }) }] },
      options: { indexAxis: 'y', scales: { x: { min: 0, suggestedMax: 0.3, title: { display: true, text: 'PSI (0.1 moderate, 0.25 significant)' } } }, plugins: { legend: { display: false } } } });
  }

  var timeline = document.getElementById('alert-timeline');
  if (timeline && data.alerts.episodes.length) {
    var eps = data.alerts.episodes;
    // Alert transitions are stamped by the evaluator's clock; open episodes run to the report time.
    var lo = Math.min.apply(null, eps.map(function(e){ return e.startedAtMs; }));
    var hi = Math.max(data.generatedAtMs, Math.max.apply(null, eps.map(function(e){ return e.endedAtMs || e.startedAtMs; })));
    var pad = Math.max(60000, (hi - lo) * 0.03); lo -= pad; hi += pad;
    var sevColor = { critical: '#b42318', warning: '#e0a100', info: '#2f5bd3' };
    new Chart(timeline, { type: 'bar', data: { labels: eps.map(function(e){ return e.rule + (e.group ? ' · ' + e.group : e.dimension ? ' · ' + e.dimension : ''); }),
        datasets: [
          { label: 'pending', data: eps.map(function(e){ return [e.startedAtMs, e.firingAtMs || e.endedAtMs || data.generatedAtMs]; }), backgroundColor: '#c9cfda', barPercentage: 0.6, grouped: false },
          { label: 'firing', data: eps.map(function(e){ return e.firingAtMs ? [e.firingAtMs, e.endedAtMs || data.generatedAtMs] : null; }),
            backgroundColor: eps.map(function(e){ return sevColor[e.severity] || '#2f5bd3'; }), barPercentage: 0.6, grouped: false }
        ] },
      options: { indexAxis: 'y', scales: { x: { type: 'linear', min: lo, max: hi, ticks: { callback: function(v){ var s = new Date(v).toISOString(); return (hi - lo) > 2*86400000 ? s.slice(5,16).replace('T',' ') : s.slice(11,16); }, maxTicksLimit: 10 },
          title: { display: true, text: 'evaluator time (UTC)' } }, y: { ticks: { autoSkip: false } } },
        plugins: { legend: { position: 'bottom' } } } });
  }
  document.body.setAttribute('data-charts-ready', 'true');
})();
`;

export function renderReportHtml(data: ReportData, options: RenderOptions): string {
  const nav = [
    '<a href="#alerts">Alerts</a>',
    ...data.dimensions.map((d) => `<a href="#${anchor(d.dimension)}">${escapeHtml(d.dimension)}</a>`),
    '<a href="#drift">Drift</a>',
    '<a href="#method">Method</a>',
  ].join('');
  const notes = data.notes.length
    ? `<section class="note">${data.notes.map((n) => `<p>${escapeHtml(n)}</p>`).join('')}</section>`
    : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="finsentry report">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(data.title)}</h1>
<div class="meta"><span>Window <b>${escapeHtml(formatDuration(data.windowMs))}</b>: ${iso(data.windowStartMs)} – ${iso(data.windowEndMs)} (event time)</span><span>Watermark ${iso(data.watermarkMs)}</span><span>Generated ${iso(data.generatedAtMs)}</span><span>Compared rate: ${escapeHtml(rateLabel(data.rate))}</span></div>
<nav>${nav}</nav>
</header>
<main>
${notes}
${summaryCards(data)}
${alertsSection(data)}
${data.dimensions.map((d, i) => dimensionSection(d, i, data)).join('\n')}
${driftSection(data.drift)}
<section id="method"><h2>Method</h2>
<ul>
<li>Every document is counted in the ${escapeHtml(formatDuration(data.bucketMs))} bucket of its own event time; the window is the sum of its buckets as of the watermark, so a replay of the same traffic gives the same report.</li>
<li>Fairness (as Fairlearn defines it): demographic parity difference = max − min of the group rates; disparate impact ratio = min / max (four-fifths rule: below 0.8 is a breach). Groups with fewer than min_samples documents are shown but not judged. Each group is compared with all other groups by a pooled two-proportion z-test; the interval is the 95% Wilson score interval.</li>
<li>Drift: the window against the reference per feature — PSI over the fixed histogram bins with ε-smoothing of empty bins, Jensen–Shannon distance (base 2), the Kolmogorov–Smirnov statistic on binned numeric features and a χ² homogeneity test on categorical mixes (agreeing with scipy on the same histograms).</li>
<li>Alerts are the state changes the evaluator published (pending → firing → resolved), shown as episodes.</li>
</ul></section>
</main>
<footer>finsentry model-risk report · self-contained: no network access needed · charts by Chart.js (MIT)</footer>
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
<script>${scriptSafe(options.chartJsSource)}</script>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}
