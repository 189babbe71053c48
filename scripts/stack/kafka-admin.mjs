// Small kafkajs admin helper for scripts/stack/stack.sh (uses the project's own kafkajs, so the
// readiness check proves the exact client version the service uses can talk to the broker).
//   node kafka-admin.mjs ready  <brokers> <timeoutSeconds>
//   node kafka-admin.mjs topics <brokers> <partitions> <topic>...
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Kafka, logLevel } = require('kafkajs');

const [command, brokers, ...rest] = process.argv.slice(2);
if (!command || !brokers) {
  console.error('usage: kafka-admin.mjs ready|topics <brokers> ...');
  process.exit(2);
}

const kafka = new Kafka({
  clientId: 'finsentry-stack',
  brokers: brokers.split(','),
  logLevel: logLevel.NOTHING,
  connectionTimeout: 3000,
  requestTimeout: 10000,
  retry: { retries: 0 },
});

async function ready(timeoutSeconds) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let lastError;
  while (Date.now() < deadline) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      await admin.listTopics();
      if (cluster.controller !== null && cluster.controller !== undefined && cluster.brokers.length > 0) {
        await admin.disconnect();
        return;
      }
      lastError = new Error('no active controller yet');
    } catch (error) {
      lastError = error;
    }
    await admin.disconnect().catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(
    `Kafka at ${brokers} not ready after ${timeoutSeconds}s: ${lastError?.message ?? 'unknown'}`,
  );
}

async function topics(partitions, names) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = names.filter((name) => !existing.has(name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
      });
      console.log(`finsentry stack: created topics ${missing.join(', ')} (${partitions} partitions)`);
    }
  } finally {
    await admin.disconnect();
  }
}

try {
  if (command === 'ready') await ready(Number(rest[0] ?? '60'));
  else if (command === 'topics') await topics(Number(rest[0]), rest.slice(1));
  else throw new Error(`unknown command ${command}`);
  process.exit(0);
} catch (error) {
  console.error(`finsentry stack: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
