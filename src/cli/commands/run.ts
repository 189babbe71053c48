import type { Command } from 'commander';
import { runService } from '../../app/service.js';
import { ConfigError, loadConfig } from '../../config/load.js';
import type { FinsentryConfig } from '../../config/schema.js';
import { createLogger } from '../../telemetry/logger.js';

/**
 * `finsentry run --config FILE`: the service (design §1), built and run by the composition root
 * (src/app/service.ts); this command only parses arguments and maps the outcome to an exit code.
 * Fatal errors (bad config, missing secret or model, unreachable broker at start-up, a consumer crash
 * kafkajs will not restart) log one line naming the cause and exit 1 (2 for an invalid config).
 */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'Run the stream processor: Kafka in, enriched records, DLQ, window statistics and alerts out',
    )
    .option('-c, --config <file>', 'config file (YAML or JSON); defaults apply when omitted')
    .option('--metrics-port <port>', 'override metrics.port (0 = any free port)', (v) => Number(v))
    .action(async (opts: { config?: string; metricsPort?: number }) => {
      let config: FinsentryConfig;
      try {
        config = loadConfig(opts.config);
      } catch (err) {
        if (err instanceof ConfigError) {
          createLogger('info').fatal({ issues: err.issues }, err.message);
          process.exit(2);
        }
        throw err;
      }
      if (opts.metricsPort !== undefined) config.metrics.port = opts.metricsPort;
      const logger = createLogger(config.log.level);
      const code = await runService(config, logger).catch((err: unknown) => {
        logger.fatal({ err }, `finsentry run failed: ${err instanceof Error ? err.message : String(err)}`);
        return 1;
      });
      logger.flush?.();
      process.exit(code);
    });
}
