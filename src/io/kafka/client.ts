import { readFileSync } from 'node:fs';
import {
  Kafka,
  logLevel,
  type KafkaConfig as KafkaJsConfig,
  type LogEntry,
  type logCreator,
  type SASLOptions,
} from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { resolveSecret } from '../../config/load.js';
import type { KafkaConfig } from '../../config/schema.js';
import type { Logger } from '../../telemetry/logger.js';

/**
 * kafkajs client built from config.kafka: brokers, client id, TLS (CA / client cert / key files) and
 * SASL (plain, scram-sha-256/512) with the password resolved from env or file (never from config).
 * kafkajs' own logs go to our pino logger (child `kafka`), so there is one structured log stream.
 */
export function buildKafka(config: KafkaConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env): Kafka {
  return new Kafka(buildKafkaJsConfig(config, logger, env));
}

export function buildKafkaJsConfig(
  config: KafkaConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): KafkaJsConfig {
  const out: KafkaJsConfig = {
    clientId: config.clientId,
    brokers: config.brokers,
    // kafkajs builds its debug entries (one per request) only when asked to; they are written at trace.
    logLevel: logger.isLevelEnabled('trace') ? logLevel.DEBUG : logLevel.INFO,
    logCreator: pinoLogCreator(logger.child({ component: 'kafka' })),
  };
  if (config.tls?.enabled) out.ssl = tlsOptions(config.tls);
  if (config.sasl) {
    const password = resolveSecret(config.sasl.password, env);
    if (password === undefined || password === '') {
      const ref = config.sasl.password.env
        ? `environment variable ${config.sasl.password.env}`
        : `file ${config.sasl.password.file}`;
      throw new Error(`kafka.sasl.password: ${ref} is not set or empty`);
    }
    out.sasl = { mechanism: config.sasl.mechanism, username: config.sasl.username, password } as SASLOptions;
  }
  return out;
}

function tlsOptions(tls: NonNullable<KafkaConfig['tls']>): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized };
  if (tls.caFile) options.ca = [readFileSync(tls.caFile, 'utf8')];
  if (tls.certFile) options.cert = readFileSync(tls.certFile, 'utf8');
  if (tls.keyFile) options.key = readFileSync(tls.keyFile, 'utf8');
  if (tls.servername) options.servername = tls.servername;
  return options;
}

/** kafkajs logCreator → pino. kafkajs INFO chatter (joins, commits) is logged at debug. */
export function pinoLogCreator(logger: Logger): logCreator {
  // kafkajs passes its own level threshold; pino's level decides what is written.
  return (_level: logLevel) =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _name, ...extra } = log;
      const fields = { namespace, ...extra };
      switch (level) {
        case logLevel.ERROR:
          logger.error(fields, message);
          break;
        case logLevel.WARN:
          logger.warn(fields, message);
          break;
        case logLevel.INFO:
          logger.debug(fields, message);
          break;
        default:
          logger.trace(fields, message);
      }
    };
}
