import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../../config/duration.js';
import { loadConfig } from '../../config/load.js';
import { buildKafka } from '../../io/kafka/client.js';
import { openWindowStore } from '../../io/redis/window-store.js';
import { reportAlertsFromKafka } from '../../tools/report/alerts-source.js';
import { loadChartJsSource, loadReportData } from '../../tools/report/load.js';
import { renderReportHtml } from '../../tools/report/render.js';
import type { ReportAlerts } from '../../tools/report/types.js';
import { createLogger } from '../../telemetry/logger.js';

/**
 * `finsentry report --window 1h --out report.html`: a self-contained HTML report for model-risk
 * reviewers, from the window store in Redis (statistics) and the alerts topic (alert history).
 */
interface ReportCliOptions {
  window: number;
  out: string;
  config?: string;
  dimension?: string[];
  end?: string;
  title?: string;
  brokers?: string;
  redisUrl?: string;
  keyPrefix?: string;
  alerts: boolean;
  maxGroups: number;
}

function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'Write a self-contained HTML report: sentiment over time, fairness gaps, drift, alert timeline',
    )
    .addOption(
      new Option('--window <w>', 'window to report on (event time), e.g. 15m, 1h, 24h')
        .argParser(durationArg)
        .default(3_600_000, '1h'),
    )
    .option('--out <file>', 'output HTML file', 'finsentry-report.html')
    .option('--config <file>', 'finsentry config file')
    .option('--dimension <name...>', 'dimensions to report (default: every configured dimension)')
    .option('--end <iso>', 'window end in event time (default: as of the watermark)')
    .option('--title <text>', 'report title')
    .option('--brokers <host:port,...>', 'Kafka brokers (overrides the config)')
    .option('--redis-url <url>', 'Redis URL (overrides the config)')
    .option('--key-prefix <prefix>', 'Redis key prefix (overrides the config)')
    .option('--no-alerts', 'do not read the alert history from Kafka')
    .option(
      '--max-groups <n>',
      'groups shown per dimension (largest first)',
      (v) => Number.parseInt(v, 10),
      30,
    )
    .action(async (opts: ReportCliOptions) => {
      const config = loadConfig(opts.config);
      if (opts.brokers) config.kafka.brokers = opts.brokers.split(',').map((b) => b.trim());
      if (opts.redisUrl) config.redis.url = opts.redisUrl;
      if (opts.keyPrefix !== undefined) config.redis.keyPrefix = opts.keyPrefix;
      const configured = config.stats.dimensions.map((d) => d.name);
      const dimensions = opts.dimension?.length ? opts.dimension : configured;
      const unknown = dimensions.filter((d) => !configured.includes(d));
      if (unknown.length)
        throw new InvalidArgumentError(
          `unknown dimension(s) ${unknown.join(', ')}; configured: ${configured.join(', ')}`,
        );
      const endMs = opts.end ? Date.parse(opts.end) : undefined;
      if (endMs !== undefined && !Number.isFinite(endMs))
        throw new InvalidArgumentError(`--end: cannot parse ${opts.end}`);

      const logger = createLogger(config.log.level === 'info' ? 'warn' : config.log.level);
      let alerts: ReportAlerts = { source: 'not read (--no-alerts)', available: false, episodes: [] };
      if (opts.alerts)
        alerts = await reportAlertsFromKafka(buildKafka(config.kafka, logger), config.kafka.topics.alerts);

      const { store, close } = openWindowStore(config);
      try {
        const data = await loadReportData(
          store,
          config,
          { windowMs: opts.window, dimensions, endMs, maxGroups: opts.maxGroups, title: opts.title },
          alerts,
        );
        writeFileSync(opts.out, renderReportHtml(data, { chartJsSource: loadChartJsSource() }));
        process.stderr.write(
          `report: ${opts.out}: ${data.totalDocuments} documents in ${opts.window / 60_000} min window ending ${new Date(data.windowEndMs).toISOString()}, ` +
            `${data.dimensions.length} dimension(s), ${data.alerts.episodes.length} alert episode(s)\n`,
        );
      } finally {
        await close();
      }
    });
}
