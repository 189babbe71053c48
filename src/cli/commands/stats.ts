import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { formatDuration } from '../../config/duration.js';
import { connectRedis } from '../../io/redis/client.js';
import { openWindowStore } from '../../io/redis/window-store.js';
import type { RateKind } from '../../stats/fairness.js';
import { buildStatsReport, reportOptionsFromConfig, type StatsReport } from '../../stats/dimension-report.js';
import { configOption, durationArg, requireDimension, UsageError } from '../options.js';

/** `finsentry stats`: current windows, fairness and drift of one dimension, from the live Redis state. */

function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  if (x !== 0 && Math.abs(x) < 10 ** -digits) return x.toExponential(1);
  return x.toFixed(digits);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The window read, its size and the fairness settings. */
function headerLines(r: StatsReport): string[] {
  return [
    `dimension ${r.dimension}, window ${formatDuration(r.windowMs)} [${iso(r.windowStartMs)} .. ${iso(r.windowEndMs)}), watermark ${r.watermarkMs ? iso(r.watermarkMs) : '-'}`,
    `documents in window: ${r.totalDocuments}; late (excluded) observations so far: ${r.lateObservations}; min_samples ${r.fairness.minSamples}; rate ${r.fairness.rate}`,
  ];
}

/** Each group's rate against the rest, then DPD/DIR with their intervals and the worst group. */
function fairnessLines(r: StatsReport): string[] {
  const out: string[] = [];
  const rows = r.fairness.groups.map((s) => [
    s.group,
    String(s.n),
    fmt(s.rate),
    s.wilson ? `[${fmt(s.wilson.low)}, ${fmt(s.wilson.high)}]` : '-',
    fmt(s.vsRest?.difference),
    fmt(s.vsRest?.z, 2),
    fmt(s.vsRest?.pValue, 4),
    s.judged ? 'yes' : 'no',
  ]);
  out.push(table(['group', 'n', 'rate', '95% Wilson', 'vs rest', 'z', 'p', 'judged'], rows));
  out.push('');
  const dpd = r.fairness.demographicParityDifference;
  const dir = r.fairness.disparateImpactRatio;
  out.push(
    `demographic parity difference ${fmt(dpd.value)} (max ${dpd.maxGroup ?? '-'}, min ${dpd.minGroup ?? '-'}); disparate impact ratio ${fmt(dir.value)}${dir.value !== null && dir.value < 0.8 ? '  < 0.8 (four-fifths rule)' : ''}`,
  );
  for (const [name, iv] of [
    ['disparate impact ratio', r.fairnessIntervals.disparateImpactRatio],
    ['demographic parity difference', r.fairnessIntervals.demographicParityDifference],
  ] as const) {
    if (iv)
      out.push(
        `${name}: ${Math.round(iv.level * 100)}% simultaneous interval [${fmt(iv.low)}, ${fmt(iv.high)}] over ${iv.pairs} pairs of judged groups; deciding pair ${iv.decidingPair.join(' / ')}`,
      );
  }
  const w = r.fairness.worstGroup;
  if (w?.vsRest)
    out.push(
      `worst group: ${w.group} rate ${fmt(w.rate)} vs rest ${fmt(w.vsRest.restRate)} (z ${fmt(w.vsRest.z, 2)}, p ${fmt(w.vsRest.pValue, 4)})`,
    );
  return out;
}

/** Fairness on joined labels (equalized odds with its interval, TPR/FPR of every class), when there are labels. */
function labelledLines(r: StatsReport): string[] {
  const l = r.fairness.labelled;
  if (!l) return [];
  const out = [
    `labelled: equalized odds difference ${fmt(l.equalizedOddsDifference.value)} (${l.equalizedOddsDifference.worstRate ?? '-'} of ${l.equalizedOddsDifference.worstClass ?? '-'}), accuracy gap ${fmt(l.accuracyGap)}`,
  ];
  const iv = r.equalizedOddsInterval;
  if (iv)
    out.push(
      `equalized odds difference: ${Math.round(iv.level * 100)}% simultaneous interval [${fmt(iv.low)}, ${fmt(iv.high)}] over ${iv.comparisons} comparisons; deciding ${iv.worstRate.toUpperCase()} of ${iv.worstClass}, ${iv.decidingPair.join(' vs ')}`,
    );
  // TPR/FPR of every class, undefined (no actual member / non-member) shown as n/a, not Fairlearn's 0.
  const classes = ['negative', 'neutral', 'positive'] as const;
  const rates = new Map(r.performance.map((p) => [p.group, p.classRates]));
  out.push(
    table(
      [
        'group',
        'labelled',
        'accuracy',
        ...classes.flatMap((c) => [`TPR ${c.slice(0, 3)}`, `FPR ${c.slice(0, 3)}`]),
        'judged',
      ],
      l.groups.map((g) => [
        g.group,
        String(g.n),
        fmt(g.accuracy),
        ...classes.flatMap((c) => [fmt(rates.get(g.group)?.[c]?.tpr), fmt(rates.get(g.group)?.[c]?.fpr)]),
        g.judged ? 'yes' : 'no',
      ]),
    ),
  );
  return out;
}

function performanceLines(r: StatsReport): string[] {
  return [
    'model performance: realised from joined labels, estimated from calibrated confidence (CBPE)',
    table(
      ['group', 'predicted', 'labelled', 'coverage', 'accuracy', 'macro-F1', 'estimated acc'],
      r.performance.map((p) => [
        p.group,
        String(p.predicted),
        String(p.labelled),
        fmt(p.labelCoverage),
        fmt(p.accuracy),
        fmt(p.macroF1),
        fmt(p.estimatedAccuracy),
      ]),
    ),
  ];
}

/** Drift of each feature against the reference, or why there is none. */
function driftLines(r: StatsReport): string[] {
  if (!r.drift) return [`drift: ${r.driftUnavailable ?? 'no reference'}`];
  const ref = r.drift.reference;
  return [
    `drift vs ${ref.kind}${ref.name ? ` "${ref.name}"` : ''} [${iso(ref.startMs)} .. ${iso(ref.endMs)}), ${ref.documents} documents`,
    table(
      ['feature', 'n cur', 'n ref', 'PSI', 'JS dist', 'KS D', 'KS p', 'chi2', 'chi2 p'],
      r.drift.features.map((f) => [
        f.feature,
        String(f.currentN),
        String(f.referenceN),
        fmt(f.psi),
        fmt(f.jensenShannon),
        fmt(f.ks?.statistic),
        fmt(f.ks?.pValue, 4),
        fmt(f.chiSquare?.statistic, 2),
        fmt(f.chiSquare?.pValue, 4),
      ]),
    ),
  ];
}

function changeLine(r: StatsReport): string {
  const alarms = r.changes.filter((c) => c.alarmsAtMs.length > 0);
  return alarms.length === 0
    ? `Page-Hinkley on negative rate (top ${r.changes.length} groups): no change detected`
    : `Page-Hinkley on negative rate: change in ${alarms.map((c) => `${c.group} at ${c.alarmsAtMs.map(iso).join(', ')}`).join('; ')}`;
}

export function renderStatsReport(r: StatsReport): string {
  return [
    ...headerLines(r),
    '',
    ...fairnessLines(r),
    ...labelledLines(r),
    '',
    ...performanceLines(r),
    '',
    ...driftLines(r),
    '',
    changeLine(r),
  ].join('\n');
}

export function registerStatsCommand(program: Command): void {
  program
    .command('stats')
    .description('Print the current window of one dimension: groups, rates, fairness and drift (from Redis)')
    .requiredOption('-d, --dimension <name>', 'dimension (as configured in stats.dimensions, or _all)')
    .addOption(
      new Option('-w, --window <duration>', 'window length, e.g. 5m, 1h, 24h')
        .argParser(durationArg)
        .default(3_600_000, '1h'),
    )
    .option(
      '--rate <kind>',
      'compared rate: negative_share | positive_share | mean_polarity',
      'negative_share',
    )
    .option('--reference <kind>', 'drift reference: trailing | baseline (default from config)')
    .option('--baseline <name>', 'baseline name when --reference baseline')
    .option('--json', 'print the report as JSON')
    .addOption(configOption())
    .action(
      async (opts: {
        dimension: string;
        window: number;
        rate: string;
        reference?: string;
        baseline?: string;
        json?: boolean;
        config?: string;
      }) => {
        const cfg = loadConfig(opts.config);
        requireDimension(cfg, opts.dimension, '-d/--dimension');
        if (!['negative_share', 'positive_share', 'mean_polarity'].includes(opts.rate))
          throw new UsageError(
            `--rate: unknown rate "${opts.rate}"; one of negative_share, positive_share, mean_polarity`,
          );
        const report = reportOptionsFromConfig(cfg, opts.dimension, opts.window);
        report.rate = opts.rate as RateKind;
        if (opts.reference) {
          if (opts.reference !== 'trailing' && opts.reference !== 'baseline')
            throw new UsageError('--reference: expected trailing or baseline');
          report.reference = { ...report.reference, kind: opts.reference };
        }
        if (opts.baseline) report.reference = { ...report.reference, kind: 'baseline', name: opts.baseline };
        const { store, close } = openWindowStore(cfg, await connectRedis(cfg.redis));
        try {
          const result = await buildStatsReport(store, cfg.stats.bucket, report);
          if (result.watermarkMs === 0)
            process.stderr.write(
              `stats: no document processed yet under redis.keyPrefix "${cfg.redis.keyPrefix}" at ${cfg.redis.url}: the window is empty\n`,
            );
          process.stdout.write(
            opts.json ? `${JSON.stringify(result, null, 2)}\n` : `${renderStatsReport(result)}\n`,
          );
        } finally {
          await close();
        }
      },
    );
}
