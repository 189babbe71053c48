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
import { ServerUnreachableError } from '../unreachable.js';

/**
 * A short-lived command's client: a few retries, and kafkajs' own ERROR lines at debug, because the
 * command reports the failure once itself (ServerUnreachableError from connectKafka).
 */
export interface KafkaClientMode {
  retries?: number;
  quietErrors?: boolean;
}

/**
 * kafkajs client built from config.kafka: brokers, client id, TLS (CA / client cert / key files) and
 * SASL (plain, scram-sha-256/512) with the password resolved from env or file (never from config).
 * kafkajs' own logs go to our pino logger (child `kafka`), so there is one structured log stream.
 */
export function buildKafka(
  config: KafkaConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
  mode: KafkaClientMode = {},
): Kafka {
  return new Kafka(buildKafkaJsConfig(config, logger, env, mode));
}

export function buildKafkaJsConfig(
  config: KafkaConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
  mode: KafkaClientMode = {},
): KafkaJsConfig {
  const out: KafkaJsConfig = {
    clientId: config.clientId,
    brokers: config.brokers,
    // kafkajs builds its debug entries (one per request) only when asked to; they are written at trace.
    logLevel: logger.isLevelEnabled('trace') ? logLevel.DEBUG : logLevel.INFO,
    logCreator: pinoLogCreator(logger.child({ component: 'kafka' }), mode.quietErrors),
  };
  if (mode.retries !== undefined) out.retry = { retries: mode.retries, initialRetryTime: 300 };
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

/** TLS options of a client from config (CA / client cert / key files); also used by the schema-registry client. */
export function tlsOptions(tls: NonNullable<KafkaConfig['tls']>): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized };
  if (tls.caFile) options.ca = [readFileSync(tls.caFile, 'utf8')];
  if (tls.certFile) options.cert = readFileSync(tls.certFile, 'utf8');
  if (tls.keyFile) options.key = readFileSync(tls.keyFile, 'utf8');
  if (tls.servername) options.servername = tls.servername;
  return options;
}

/**
 * kafkajs logCreator → pino. kafkajs INFO chatter (joins, commits) is logged at debug; with
 * `quietErrors` its ERROR lines too (the caller reports the failure once).
 */
export function pinoLogCreator(logger: Logger, quietErrors = false): logCreator {
  // kafkajs passes its own level threshold; pino's level decides what is written.
  return (_level: logLevel) =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _name, ...extra } = log;
      const fields = { namespace, ...extra };
      switch (level) {
        case logLevel.ERROR:
          if (quietErrors) logger.debug(fields, message);
          else logger.error(fields, message);
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

/**
 * Fails fast, once, naming the brokers and the setting, when no broker answers (a command's first
 * contact with Kafka); connection errors later in a command keep kafkajs' own messages.
 */
export async function connectKafka(kafka: Kafka, config: KafkaConfig): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    throw new ServerUnreachableError(
      'Kafka',
      config.brokers.join(','),
      'kafka.brokers (FINSENTRY_KAFKA__BROKERS, or --brokers)',
      err,
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
