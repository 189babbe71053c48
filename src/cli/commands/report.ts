import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { buildKafka, connectKafka } from '../../io/kafka/client.js';
import { connectRedis } from '../../io/redis/client.js';
import { openWindowStore } from '../../io/redis/window-store.js';
import { reportAlertsFromKafka } from '../../tools/report/alerts-source.js';
import { loadChartJsSource, loadReportData } from '../../tools/report/load.js';
import { renderReportHtml } from '../../tools/report/render.js';
import type { ReportAlerts } from '../../tools/report/types.js';
import { createLogger, type Logger } from '../../telemetry/logger.js';
import type { FinsentryConfig } from '../../config/schema.js';
import { configOption, durationArg, intArg, requireDimension, UsageError } from '../options.js';

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

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'Write a self-contained HTML report: sentiment over time, fairness gaps, drift, alert timeline',
    )
    .addOption(
      new Option('-w, --window <w>', 'window to report on (event time), e.g. 15m, 1h, 24h')
        .argParser(durationArg)
        .default(3_600_000, '1h'),
    )
    .option('-o, --out <file>', 'output HTML file', 'finsentry-report.html')
    .addOption(configOption())
    .option('-d, --dimension <name...>', 'dimensions to report (default: every configured dimension)')
    .option('--end <iso>', 'window end in event time (default: as of the watermark)')
    .option('--title <text>', 'report title')
    .option('--brokers <host:port,...>', 'Kafka brokers (overrides the config)')
    .option('--redis-url <url>', 'Redis URL (overrides the config)')
    .option('--key-prefix <prefix>', 'Redis key prefix (overrides the config)')
    .option('--no-alerts', 'do not read the alert history from Kafka')
    .option('--max-groups <n>', 'groups shown per dimension (largest first)', intArg({ min: 1 }), 30)
    .action(async (opts: ReportCliOptions) => {
      const config = loadConfig(opts.config);
      if (opts.brokers) config.kafka.brokers = opts.brokers.split(',').map((b) => b.trim());
      if (opts.redisUrl) config.redis.url = opts.redisUrl;
      if (opts.keyPrefix !== undefined) config.redis.keyPrefix = opts.keyPrefix;
      const configured = config.stats.dimensions.map((d) => d.name);
      const dimensions = opts.dimension?.length ? opts.dimension : configured;
      for (const d of dimensions) requireDimension(config, d, '-d/--dimension');
      const endMs = opts.end ? Date.parse(opts.end) : undefined;
      if (endMs !== undefined && !Number.isFinite(endMs))
        throw new UsageError(`--end: cannot parse ${opts.end} (expected an ISO 8601 time)`);

      const logger = createLogger(config.log.level === 'info' ? 'warn' : config.log.level);
      const redis = await connectRedis(config.redis);
      const alerts = opts.alerts ? await readAlerts(config, logger) : NOT_READ;
      const { store, close } = openWindowStore(config, redis);
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

const NOT_READ: ReportAlerts = { source: 'not read (--no-alerts)', available: false, episodes: [] };

/** The alert history, or (Kafka unreachable) one warning naming the brokers and a report without it. */
async function readAlerts(config: FinsentryConfig, logger: Logger): Promise<ReportAlerts> {
  const kafka = buildKafka(config.kafka, logger, process.env, { retries: 1, quietErrors: true });
  try {
    await connectKafka(kafka, config.kafka);
  } catch (err) {
    const message = (err as Error).message;
    process.stderr.write(`report: alert history not read: ${message}, or pass --no-alerts\n`);
    return { source: `Kafka: ${message}`, available: false, episodes: [] };
  }
  return reportAlertsFromKafka(kafka, config.kafka.topics.alerts);
}
