// kafkajs client options from config.kafka: SASL with the password from env or file (never from the
// config itself), TLS material from files, and kafkajs logs routed to pino.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../src/config/load.js';
import { buildKafkaJsConfig, pinoLogCreator } from '../../../../src/io/kafka/client.js';
import { createLogger } from '../../../../src/telemetry/logger.js';

const dir = mkdtempSync(path.join(tmpdir(), 'fs-kafka-cfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger('silent');

describe('kafkajs config from config.kafka', () => {
  it('takes the SASL password from the environment', () => {
    const cfg = parseConfig(
      {
        kafka: {
          brokers: ['b1:9093', 'b2:9093'],
          sasl: { mechanism: 'scram-sha-512', username: 'svc', password: { env: 'KAFKA_PW' } },
        },
      },
      {},
    );
    const out = buildKafkaJsConfig(cfg.kafka, logger, { KAFKA_PW: 's3cret' });
    expect(out.brokers).toEqual(['b1:9093', 'b2:9093']);
    expect(out.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc', password: 's3cret' });
    expect(out.ssl).toBeUndefined();
  });

  it('takes the SASL password from a file and TLS material from files', () => {
    const pw = path.join(dir, 'pw');
    const ca = path.join(dir, 'ca.pem');
    writeFileSync(pw, 'from-file\n');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const cfg = parseConfig(
      {
        kafka: {
          tls: { caFile: ca, servername: 'kafka.internal' },
          sasl: { mechanism: 'plain', username: 'svc', password: { file: pw } },
        },
      },
      {},
    );
    const out = buildKafkaJsConfig(cfg.kafka, logger, {});
    expect(out.sasl).toMatchObject({ mechanism: 'plain', password: 'from-file' });
    expect(out.ssl).toMatchObject({
      rejectUnauthorized: true,
      servername: 'kafka.internal',
      ca: [expect.stringContaining('BEGIN CERTIFICATE')],
    });
  });

  it('names the missing secret', () => {
    const cfg = parseConfig(
      { kafka: { sasl: { mechanism: 'plain', username: 'svc', password: { env: 'NOT_SET_PW' } } } },
      {},
    );
    expect(() => buildKafkaJsConfig(cfg.kafka, logger, {})).toThrow(
      'kafka.sasl.password: environment variable NOT_SET_PW is not set or empty',
    );
  });

  it('routes kafkajs log entries to pino with their level and fields', () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const log = pinoLogCreator(pino({ level: 'trace' }, sink))(logLevel.DEBUG);
    log({
      namespace: 'Consumer',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: { timestamp: 't', message: 'crashed', groupId: 'g1' },
    });
    log({
      namespace: 'Runner',
      level: logLevel.INFO,
      label: 'INFO',
      log: { timestamp: 't', message: 'joined' },
    });
    expect(lines).toEqual([
      expect.objectContaining({ level: 50, msg: 'crashed', namespace: 'Consumer', groupId: 'g1' }),
      expect.objectContaining({ level: 20, msg: 'joined', namespace: 'Runner' }),
    ]);
  });
});
