// Private servers with security turned on, for the security tests (design §10): a Kafka broker with
// SASL_SSL, SASL_PLAINTEXT and SSL (mutual TLS) listeners and SCRAM + PLAIN users, and a Redis that
// only speaks TLS (client certificates required) with ACL users. Each runs on its own free ports with
// its own temporary directory, so the shared stack (9092/6379) that other tests use is never touched.
// Certificates are generated at test time with openssl (a throwaway CA, server and client certs).
// Kafka reuses the jars the shared stack cached (.stack/kafka/libs); plain private servers for fault
// tests are in private-stack.ts (whose freePort this shares).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { kafkaLibsDir } from './kafka-java.js';
import { freePort, ServerExitedEarly, startOnFreshPorts } from './private-stack.js';
import { waitFor } from './stack.js';

// ------------------------------------------------------------------------------------- certificates

export interface TlsMaterial {
  caFile: string;
  /** Server certificate for 127.0.0.1 / localhost, signed by the CA. */
  serverCertFile: string;
  serverKeyFile: string;
  /** Private key and certificate chain in one PEM file (Kafka's PEM keystore). */
  serverPemFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA that signed nothing here: a client trusting only it must refuse the servers. */
  otherCaFile: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A fresh CA with a server and a client certificate (EC P-256, valid for two days) under `dir`. */
export function generateTls(dir: string): TlsMaterial {
  mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string): void =>
    openssl(
      [
        'req',
        '-x509',
        ...ec,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
      ],
      dir,
    );
  ca('finsentry-test-ca');
  ca('finsentry-other-ca');
  const leaf = (name: string, extensions: string): void => {
    writeFileSync(path.join(dir, `${name}.ext`), extensions);
    openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'finsentry-test-ca.crt',
        '-CAkey',
        'finsentry-test-ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  };
  leaf('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
  const file = (name: string): string => path.join(dir, name);
  // Kafka's PEM keystore: the (PKCS#8, unencrypted) key followed by the certificate chain.
  writeFileSync(
    file('server.pem'),
    readFileSync(file('server.key'), 'utf8') + readFileSync(file('server.crt'), 'utf8'),
  );
  return {
    caFile: file('finsentry-test-ca.crt'),
    serverCertFile: file('server.crt'),
    serverKeyFile: file('server.key'),
    serverPemFile: file('server.pem'),
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
    otherCaFile: file('finsentry-other-ca.crt'),
  };
}

/** A random alphanumeric secret (SCRAM and ACL passwords must survive config-file quoting). */
export function randomSecret(prefix: string): string {
  return `${prefix}${randomBytes(18).toString('hex')}`;
}

// --------------------------------------------------------------------------------------------- Kafka

export interface KafkaUser {
  name: string;
  password: string;
}

export interface SecureKafkaOptions {
  tls: TlsMaterial;
  /** Users known to every mechanism: PLAIN (in the broker's JAAS config) and SCRAM-SHA-256/512. */
  users: KafkaUser[];
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * A single-node KRaft broker with SCRAM and PLAIN users and TLS. Listeners, all on 127.0.0.1:
 *   SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) · SASL_PLAINTEXT (same) · SSL with client
 *   certificates required · PLAINTEXT, used only between broker and itself and for the readiness check.
 * SCRAM credentials are created at storage format time (`kafka-storage format --add-scram`).
 */
export class SecureKafka {
  private constructor(
    private readonly dir: string,
    private readonly child: ChildProcess,
    readonly ports: { plaintext: number; saslSsl: number; saslPlaintext: number; ssl: number },
    private readonly log: () => string,
  ) {}

  static start(options: SecureKafkaOptions): Promise<SecureKafka> {
    return startOnFreshPorts(() => SecureKafka.startOnce(options));
  }

  private static async startOnce(options: SecureKafkaOptions): Promise<SecureKafka> {
    const dir = mkdtempSync(path.join(tmpdir(), 'fs-secure-kafka-'));
    const ports = {
      plaintext: await freePort(),
      controller: await freePort(),
      saslSsl: await freePort(),
      saslPlaintext: await freePort(),
      ssl: await freePort(),
    };
    const { tls, users } = options;
    const plainUsers = users.map((u) => `user_${u.name}="${u.password}"`).join(' ');
    const jaas = (listener: string): string[] => [
      `listener.name.${listener}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
      `listener.name.${listener}.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
      `listener.name.${listener}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    ];
    const h = '127.0.0.1';
    const properties = [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@${h}:${ports.controller}`,
      `listeners=PLAINTEXT://${h}:${ports.plaintext},CONTROLLER://${h}:${ports.controller},SASL_SSL://${h}:${ports.saslSsl},SASL_PLAINTEXT://${h}:${ports.saslPlaintext},SSL://${h}:${ports.ssl}`,
      `advertised.listeners=PLAINTEXT://${h}:${ports.plaintext},SASL_SSL://${h}:${ports.saslSsl},SASL_PLAINTEXT://${h}:${ports.saslPlaintext},SSL://${h}:${ports.ssl}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL',
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      ...jaas('sasl_ssl'),
      ...jaas('sasl_plaintext'),
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${tls.serverPemFile}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${tls.caFile}`,
      'listener.name.ssl.ssl.client.auth=required',
      `log.dirs=${path.join(dir, 'data')}`,
      'num.partitions=3',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=4',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=4',
      'group.initial.rebalance.delay.ms=0',
      'group.min.session.timeout.ms=1000',
      'auto.create.topics.enable=false',
      'num.network.threads=2',
      'num.io.threads=2',
      '',
    ];
    const config = path.join(dir, 'server.properties');
    writeFileSync(config, properties.join('\n'));
    writeFileSync(
      path.join(dir, 'log4j.properties'),
      [
        'log4j.rootLogger=INFO, file',
        'log4j.appender.file=org.apache.log4j.FileAppender',
        `log4j.appender.file.File=${path.join(dir, 'server.log')}`,
        'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
        'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
        '',
      ].join('\n'),
    );
    const libs = `${kafkaLibsDir()}/*`;
    const log4j = `-Dlog4j.configuration=file:${path.join(dir, 'log4j.properties')}`;
    const clusterId = randomBytes(16).toString('base64url');
    const scram = users.flatMap((u) => [
      '--add-scram',
      `SCRAM-SHA-256=[name=${u.name},password=${u.password}]`,
      '--add-scram',
      `SCRAM-SHA-512=[name=${u.name},password=${u.password}]`,
    ]);
    execFileSync(
      'java',
      [
        '-Xmx256m',
        log4j,
        '-cp',
        libs,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        config,
        ...scram,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let output = '';
    const child = spawn(
      'java',
      [
        '-Xmx384m',
        '-Xms128m',
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        log4j,
        '-cp',
        libs,
        'kafka.Kafka',
        config,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const broker = new SecureKafka(dir, child, ports, () => {
      let server = '';
      try {
        server = readFileSync(path.join(dir, 'server.log'), 'utf8').slice(-4000);
      } catch {
        // not written yet
      }
      return `${output.slice(-2000)}\n${server}`;
    });
    try {
      const kafka = new Kafka({
        clientId: 'secure-kafka-ready',
        brokers: [`${h}:${ports.plaintext}`],
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
      });
      const ready = await waitFor(
        async () => {
          if (child.exitCode !== null) return 'exited';
          const admin = kafka.admin();
          try {
            await admin.connect();
            await admin.listTopics();
            return true;
          } finally {
            await admin.disconnect();
          }
        },
        240_000, // a JVM broker on a busy 2-core machine
        500,
      );
      if (ready === 'exited') throw new ServerExitedEarly(`broker exited ${child.exitCode}`);
    } catch (err) {
      const log = broker.log();
      await broker.stop();
      const Failure = err instanceof ServerExitedEarly ? ServerExitedEarly : Error;
      throw new Failure(`secure Kafka did not start: ${(err as Error).message}\n${log}`, { cause: err });
    }
    return broker;
  }

  /** host:port of a listener. */
  broker(listener: 'saslSsl' | 'saslPlaintext' | 'ssl'): string {
    return `127.0.0.1:${this.ports[listener]}`;
  }

  /** The broker's console and server log (for failure messages). */
  output(): string {
    return this.log();
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 20_000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// --------------------------------------------------------------------------------------------- Redis

export interface SecureRedisOptions {
  tls: TlsMaterial;
  /** ACL rules per user after `user <name> on >password`, e.g. `~fs:* -@all +@read`. */
  users: Array<{ name: string; password: string; rules: string }>;
}

/**
 * redis-server on a free port that accepts only TLS (`--port 0 --tls-port`), requires client
 * certificates signed by the test CA, and knows only the given ACL users (the default user is off).
 */
export class SecureRedis {
  private constructor(
    private readonly dir: string,
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly tls: TlsMaterial,
    private readonly log: () => string,
  ) {}

  static start(options: SecureRedisOptions): Promise<SecureRedis> {
    return startOnFreshPorts(() => SecureRedis.startOnce(options));
  }

  private static async startOnce(options: SecureRedisOptions): Promise<SecureRedis> {
    const dir = mkdtempSync(path.join(tmpdir(), 'fs-secure-redis-'));
    const port = await freePort();
    const acl = path.join(dir, 'users.acl');
    writeFileSync(
      acl,
      [
        'user default off',
        ...options.users.map((u) => `user ${u.name} on >${u.password} ${u.rules}`),
        '',
      ].join('\n'),
    );
    const { tls } = options;
    let output = '';
    const child = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--tls-cert-file',
        tls.serverCertFile,
        '--tls-key-file',
        tls.serverKeyFile,
        '--tls-ca-cert-file',
        tls.caFile,
        '--tls-auth-clients',
        'yes',
        '--aclfile',
        acl,
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const redis = new SecureRedis(dir, child, port, tls, () => output.slice(-4000));
    try {
      const ready = await waitFor(() => {
        if (child.exitCode !== null) return 'exited';
        return /Ready to accept connections/.test(output) && 'ready';
      }, 120_000); // a generous bound on a busy machine; the usual start is well under a second
      if (ready === 'exited') throw new ServerExitedEarly(`redis-server exited ${child.exitCode}`);
    } catch (err) {
      await redis.stop();
      const Failure = err instanceof ServerExitedEarly ? ServerExitedEarly : Error;
      throw new Failure(`secure Redis did not start: ${(err as Error).message}\n${output}`, { cause: err });
    }
    return redis;
  }

  get url(): string {
    return `rediss://127.0.0.1:${this.port}`;
  }

  /** An ioredis client with the test CA and client certificate, as `user`. */
  client(user: { name: string; password: string }): Redis {
    return new Redis({
      host: '127.0.0.1',
      port: this.port,
      username: user.name,
      password: user.password,
      tls: {
        ca: readFileSync(this.tls.caFile),
        cert: readFileSync(this.tls.clientCertFile),
        key: readFileSync(this.tls.clientKeyFile),
      },
      maxRetriesPerRequest: 1,
      lazyConnect: true,
    });
  }

  output(): string {
    return this.log();
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 10_000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
