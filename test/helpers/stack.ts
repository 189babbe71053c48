// Connection info and small helpers for tests that use the real local stack. The values come from
// test/helpers/global-setup.ts (FINSENTRY_TEST_* env vars), with the stack's default ports as a
// fallback so that a single file can also be run with the stack already up.
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';

export interface HostPort {
  host: string;
  port: number;
}

function env(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

function parseHostPort(hostPort: string): HostPort {
  const separator = hostPort.lastIndexOf(':');
  if (separator <= 0) throw new Error(`expected host:port, got "${hostPort}"`);
  return { host: hostPort.slice(0, separator), port: Number(hostPort.slice(separator + 1)) };
}

/** Kafka bootstrap brokers as host:port strings. */
export function kafkaBrokers(): string[] {
  return env('FINSENTRY_TEST_KAFKA_BROKERS', '127.0.0.1:9092').split(',');
}

/** redis:// URL of the single-node Redis. */
export function redisUrl(): string {
  return env('FINSENTRY_TEST_REDIS_URL', 'redis://127.0.0.1:6379');
}

/** Seed nodes of the 3-node Redis Cluster. */
export function redisClusterNodes(): HostPort[] {
  return env('FINSENTRY_TEST_REDIS_CLUSTER', '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003')
    .split(',')
    .map(parseHostPort);
}

/** Base URL of the local Prometheus (scrapes 127.0.0.1:9464 every 2 s). */
export function prometheusUrl(): string {
  return env('FINSENTRY_TEST_PROMETHEUS_URL', 'http://127.0.0.1:9090');
}

/** Base URL of the local Alertmanager. */
export function alertmanagerUrl(): string {
  return env('FINSENTRY_TEST_ALERTMANAGER_URL', 'http://127.0.0.1:9093');
}

/** Confluent-compatible API base of the schema registry (Apicurio's /apis/ccompat/v7, port 8081). */
export function schemaRegistryUrl(): string {
  return env('FINSENTRY_TEST_SCHEMA_REGISTRY_URL', 'http://127.0.0.1:8081/apis/ccompat/v7');
}

/** A name no other test (or parallel run) uses: for topics, consumer groups and Redis key prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

function adminClient(): Kafka {
  return new Kafka({ clientId: 'finsentry-test-admin', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
}

/**
 * Creates topics on a broker (no-op for those that exist) and waits until every partition has a
 * leader. On a busy or just-started broker the leader wait can fail with UNKNOWN_TOPIC_OR_PARTITION
 * while the new topics' metadata propagates; that is retried a few times (creating again is a no-op).
 */
export async function createTopicsOn(
  kafka: Kafka,
  names: readonly string[],
  partitions = 4,
  config: Record<string, string> = {},
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: names.map((topic) => ({
          topic,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
        })),
      });
      return;
    } catch (error) {
      const type = (error as { type?: unknown }).type;
      if (attempt >= 5 || (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE'))
        throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    } finally {
      await admin.disconnect();
    }
  }
}

/** Creates a topic on the shared broker (no-op when it exists) and waits until every partition has a leader. */
export async function createTopic(
  name: string,
  partitions = 4,
  config: Record<string, string> = {},
): Promise<string> {
  await createTopicsOn(adminClient(), [name], partitions, config);
  return name;
}

/** Deletes topics a test created; missing topics are ignored. */
export async function deleteTopics(names: string[]): Promise<void> {
  if (names.length === 0) return;
  const admin = adminClient().admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const present = names.filter((name) => existing.has(name));
    if (present.length > 0) await admin.deleteTopics({ topics: present });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Polls `predicate` until it returns something other than undefined/null/false (which is returned)
 * or `timeoutMs` passes; a throwing predicate counts as not yet.
 * This bounds how long a test waits for an asynchronous effect; it is not a timing assertion.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`waitFor: condition not met within ${timeoutMs} ms${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
