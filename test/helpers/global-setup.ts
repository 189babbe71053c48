// vitest globalSetup for the integration and faults projects: makes sure the real local stack
// (Kafka, Redis, Redis Cluster, Prometheus + Alertmanager, schema registry) answers, starting it through
// scripts/stack/stack.sh when it does not, and hands the connection info to the test workers
// through FINSENTRY_TEST_* environment variables (read them via test/helpers/stack.ts).
//
// Pointing at existing servers: when FINSENTRY_KAFKA_BROKERS and FINSENTRY_REDIS_URL are both set
// (and FINSENTRY_REDIS_CLUSTER_NODES for cluster tests), nothing is started locally but the schema
// registry, unless FINSENTRY_SCHEMA_REGISTRY_URL names one (its Confluent API base URL).
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const LOCAL_KAFKA = '127.0.0.1:9092';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';
const LOCAL_CLUSTER = '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';
const LOCAL_PROMETHEUS = 'http://127.0.0.1:9090';
const LOCAL_ALERTMANAGER = 'http://127.0.0.1:9093';
/** Apicurio Registry's Confluent-compatible API (scripts/stack/stack.sh up registry). */
const LOCAL_SCHEMA_REGISTRY = 'http://127.0.0.1:8081/apis/ccompat/v7';

interface Endpoint {
  host: string;
  port: number;
}

function parseHostPort(hostPort: string): Endpoint {
  const separator = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, separator), port: Number(hostPort.slice(separator + 1)) };
}

function endpointOfUrl(url: string, defaultPort: number): Endpoint {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: parsed.port === '' ? defaultPort : Number(parsed.port) };
}

/** Resolves true when a TCP connection to the endpoint succeeds within timeoutMs. */
function answers({ host, port }: Endpoint, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

export default async function setup(): Promise<void> {
  const kafkaOverride = process.env.FINSENTRY_KAFKA_BROKERS;
  const redisOverride = process.env.FINSENTRY_REDIS_URL;
  const brokers = kafkaOverride ?? LOCAL_KAFKA;
  const redisUrl = redisOverride ?? LOCAL_REDIS;
  const clusterNodes = process.env.FINSENTRY_REDIS_CLUSTER_NODES ?? LOCAL_CLUSTER;
  const prometheusUrl = process.env.FINSENTRY_PROMETHEUS_URL ?? LOCAL_PROMETHEUS;
  const alertmanagerUrl = process.env.FINSENTRY_ALERTMANAGER_URL ?? LOCAL_ALERTMANAGER;

  const registryOverride = process.env.FINSENTRY_SCHEMA_REGISTRY_URL;
  const schemaRegistryUrl = registryOverride ?? LOCAL_SCHEMA_REGISTRY;

  const usingExternal = kafkaOverride !== undefined && redisOverride !== undefined;
  if (usingExternal && registryOverride === undefined) {
    if (!(await answers(endpointOfUrl(schemaRegistryUrl, 8081)))) runStack(['up', 'registry']);
  }
  if (!usingExternal) {
    const required: Endpoint[] = [
      ...brokers.split(',').map(parseHostPort),
      endpointOfUrl(redisUrl, 6379),
      ...clusterNodes.split(',').map(parseHostPort),
      endpointOfUrl(prometheusUrl, 9090),
      endpointOfUrl(alertmanagerUrl, 9093),
      endpointOfUrl(schemaRegistryUrl, 8081),
    ];
    const reachable = await Promise.all(required.map((endpoint) => answers(endpoint)));
    if (reachable.includes(false)) {
      console.log(
        'finsentry test setup: local stack not (fully) running; starting it with scripts/stack/stack.sh up',
      );
      runStack(['up', '--redis-cluster', '--prometheus', '--registry']);
    }
  }

  // Workers are forked after globalSetup, so they inherit these.
  process.env.FINSENTRY_TEST_KAFKA_BROKERS = brokers;
  process.env.FINSENTRY_TEST_REDIS_URL = redisUrl;
  process.env.FINSENTRY_TEST_REDIS_CLUSTER = clusterNodes;
  process.env.FINSENTRY_TEST_PROMETHEUS_URL = prometheusUrl;
  process.env.FINSENTRY_TEST_ALERTMANAGER_URL = alertmanagerUrl;
  process.env.FINSENTRY_TEST_SCHEMA_REGISTRY_URL = schemaRegistryUrl;
}

function runStack(args: string[]): void {
  const result = spawnSync('bash', [path.join(repoRoot, 'scripts/stack/stack.sh'), ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) {
    throw new Error(
      `scripts/stack/stack.sh ${args.join(' ')} failed (exit ${String(result.status ?? result.signal)}); see the output above`,
    );
  }
}
