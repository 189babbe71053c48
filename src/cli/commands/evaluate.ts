import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { startEvaluatorService } from '../../app/evaluator.js';
import { withRegisteredOutputSchemas } from '../../app/schema-registry.js';
import { createLogger } from '../../telemetry/logger.js';
import { configOption, intArg } from '../options.js';
import { createMetrics } from '../../telemetry/metrics.js';
import { Readiness, startOpsServer } from '../../telemetry/server.js';

/**
 * `finsentry evaluate --config FILE`: the alert evaluator alone (no pipeline), with its own
 * /metrics, /healthz and /readyz. Run several for availability: one holds the leader lease and
 * evaluates, the others stand by and take over within `evaluator.leaderLease`.
 */
export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description('Run the alert evaluator alone (leader-elected through Redis)')
    .addOption(configOption())
    .option(
      '--metrics-port <port>',
      'override metrics.port (0 = any free port)',
      intArg({ min: 0, max: 65535 }),
    )
    .action(async (opts: { config?: string; metricsPort?: number }) => {
      const loaded = loadConfig(opts.config);
      const logger = createLogger(loaded.log.level);
      const config = await withRegisteredOutputSchemas(loaded, logger);
      const metrics = createMetrics({ stats: config.stats });
      const readiness = new Readiness();
      readiness.set('evaluator', false);
      const server = await startOpsServer({
        registry: metrics.registry,
        readiness,
        port: opts.metricsPort ?? config.metrics.port,
        host: config.metrics.host,
      });
      logger.info({ port: server.port }, 'metrics server listening');
      const service = await startEvaluatorService(config, { logger, metrics });
      readiness.set('evaluator', true);

      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, 'shutting down evaluator');
          resolve();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      readiness.set('evaluator', false);
      await service.stop();
      await server.close();
    });
}
