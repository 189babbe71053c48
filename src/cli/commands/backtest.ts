import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { defaultAlertRules, legacySurgeRule } from '../../alerts/default-rules.js';
import { loadConfig } from '../../config/load.js';
import { DEFAULT_PRESET, nullTraffic, surgeTraffic } from '../../tools/backtest/presets.js';
import { runBacktest } from '../../tools/backtest/backtest.js';
import { formatTable, scoreBacktest } from '../../tools/backtest/score.js';
import { memoryBacktestStore } from '../../tools/backtest/store.js';

/**
 * `finsentry backtest`: scenario traffic through the real rule code on in-memory windows (no Kafka,
 * Redis or model), printing per rule false alerts per day, detection delay of planted events and time
 * firing (docs/alerting.md "Backtest"). The logic lives in src/tools/backtest/.
 */
interface BacktestCliOptions {
  traffic: 'null' | 'surge';
  surgeRank: number;
  days: number;
  rate: number;
  issuers: number;
  lambda: number;
  seed: number;
  accuracy: number;
  grouping: 'stories' | 'documents';
  legacySurge?: boolean;
  config?: string;
  json?: string;
}

function positive(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

function nonNegative(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative number`);
    return n;
  };
}

function share(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1)
    throw new InvalidArgumentError('--accuracy is a share in (0, 1]');
  return n;
}

export function registerBacktestCommand(program: Command): void {
  program
    .command('backtest')
    .description(
      'Replay scenario traffic through the alert rules on in-memory windows; false alerts/day per rule',
    )
    .addOption(
      new Option('--traffic <kind>', 'null (nothing planted) or surge (one issuer at 0.7 for 20 min)')
        .choices(['null', 'surge'])
        .default('null'),
    )
    .option(
      '--surge-rank <n>',
      'with --traffic surge: the surging issuer by coverage rank (3: high volume, 10: mid)',
      positive('--surge-rank'),
      3,
    )
    .option('--days <n>', 'simulated days', positive('--days'), DEFAULT_PRESET.days)
    .option(
      '--rate <n>',
      'documents per minute (daily mean)',
      positive('--rate'),
      DEFAULT_PRESET.ratePerMinute,
    )
    .option('--issuers <n>', 'issuers in the market', positive('--issuers'), DEFAULT_PRESET.issuers)
    .option(
      '--lambda <n>',
      'republications per story (Poisson mean)',
      nonNegative('--lambda'),
      DEFAULT_PRESET.lambda,
    )
    .option('--seed <n>', 'random seed', (v) => Number(v), DEFAULT_PRESET.seed)
    .option('--accuracy <p>', 'simulated model: P(predicted = intended label)', share, 0.85)
    .addOption(
      new Option('--grouping <mode>', 'stories (security master + story dedup) or documents (as before)')
        .choices(['stories', 'documents'])
        .default('stories'),
    )
    .option('--legacy-surge', 'use the surge rule as shipped before docs/alerting.md "Surge"')
    .option('-c, --config <file>', 'take alerts.rules and stats settings from this config')
    .option('--json <file>', 'also write the table and the alerts as JSON')
    .action(async (opts: BacktestCliOptions) => {
      const config = opts.config ? loadConfig(opts.config) : undefined;
      let rules = config?.alerts?.rules ?? defaultAlertRules();
      if (opts.legacySurge)
        rules = rules.map((r) => (r.name === 'NegativeSentimentSurge' ? legacySurgeRule() : r));
      const preset = {
        ...DEFAULT_PRESET,
        days: opts.days,
        ratePerMinute: opts.rate,
        issuers: opts.issuers,
        lambda: opts.lambda,
        seed: opts.seed,
      };
      const scenario =
        opts.traffic === 'surge' ? surgeTraffic(preset, { rank: opts.surgeRank }) : nullTraffic(preset);
      const started = performance.now();
      const run = await runBacktest({
        scenario,
        rules,
        mode: opts.grouping,
        model: { accuracy: opts.accuracy },
        store: memoryBacktestStore,
        ...(config
          ? {
              bucketMs: config.stats.bucket,
              allowedLatenessMs: config.stats.allowedLateness,
              referenceMs: config.evaluator.reference.window,
              defaultMinSamples: config.stats.minSamples,
              storyWindowMs: config.stats.stories.window,
              dedupDimensions: config.stats.stories.dedupDimensions,
              storyKinds: config.stats.stories.kinds,
            }
          : {}),
        onProgress: (t) => process.stderr.write(`\r${new Date(t).toISOString()} `),
      });
      process.stderr.write('\n');
      const rows = scoreBacktest(run.truth, run.alerts, rules);
      console.log(
        `${opts.traffic} traffic: ${opts.days} day(s), ${run.documents} documents (${opts.rate}/min mean), ${opts.issuers} issuers, λ = ${opts.lambda}, grouping ${opts.grouping}; ${run.duplicatesSkipped} duplicate story observations skipped, ${run.lateObservations} late; ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
      console.log(formatTable(rows));
      if (opts.json)
        writeFileSync(opts.json, `${JSON.stringify({ options: opts, rows, alerts: run.alerts }, null, 2)}\n`);
    });
}
