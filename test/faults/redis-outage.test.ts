// Fault 2 (issue #8): Redis stopped for 20 s mid-stream, then started again. The processor must keep
// running, pause, commit nothing whose statistics are not stored, retry with backoff and resume
// without loss once Redis is back. Redis here is a private server from scripts/stack/stack.sh (free
// port, append-only file so it keeps its data across the restart, as a production Redis with
// persistence does); stopping the shared Redis would break other tests running at the same time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafka } from '../helpers/avro-producer.js';
import { Traffic } from '../helpers/fault-traffic.js';
import { Ledger, ledgerProblems, printFigures } from '../helpers/ledger.js';
import { PrivateStack } from '../helpers/private-stack.js';
import {
  GroupProgress,
  ProcessorProcess,
  synthModels,
  TEST_AUTHOR_KEY,
  writeProcessorConfig,
} from '../helpers/processor-process.js';
import { createTopic, deleteTopics, kafkaBrokers, uniqueName, waitFor } from '../helpers/stack.js';
import { applyCleanPass, compareWindows } from '../helpers/window-check.js';

const TOTAL = 12_000;
const OUTAGE_MS = 20_000;
/** In-flight calls that Redis answered just before it stopped may still commit right after. */
const SETTLE_MS = 3_000;

const kafka = testKafka();
const dir = mkdtempSync(path.join(tmpdir(), 'fs-fault-redis-'));
const base = uniqueName('fs-redisout');
const topics = { news: `${base}.news`, chat: `${base}.chat`, enriched: `${base}.enriched`, dlq: `${base}.dlq` };
const groupId = uniqueName('fs-redisout-group');
const keyPrefix = 'fsredisout';
let stack: PrivateStack;

beforeAll(async () => {
  stack = await PrivateStack.start(['redis']);
  for (const topic of Object.values(topics)) await createTopic(topic, 4);
});

afterAll(async () => {
  await deleteTopics(Object.values(topics));
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('fault: Redis outage', () => {
  it('Redis stopped for 20 s mid-stream: the processor pauses without committing, then resumes without loss', async () => {
    const { path: configPath, config } = writeProcessorConfig(path.join(dir, 'finsentry.json'), {
      brokers: kafkaBrokers(),
      redisUrl: stack.redisUrl,
      groupId,
      topics,
      keyPrefix,
      models: synthModels(dir),
    });
    const progress = new GroupProgress(kafka, groupId, [topics.news, topics.chat]);
    // Only `written()` is used: the high watermarks of the enriched topic (records produced).
    const outputs = new GroupProgress(kafka, groupId, [topics.enriched]);
    const traffic = new Traffic(kafka, {
      prefix: 'rdo',
      topics,
      seed: 22,
      baseTimeMs: Math.floor(Date.now() / 60_000) * 60_000 - 12 * 3_600_000,
      stepMs: 200,
      corruptEvery: 400,
      lateEvery: 97,
    });
    const processor = ProcessorProcess.start(configPath);
    const figures = { recoverySeconds: 0, committedDuringOutage: 0, outputsDuringOutage: 0 };
    try {
      // Input keeps arriving through the outage (Kafka is fine), paced so the stream spans it.
      const streaming = traffic.stream(TOTAL, 400);
      await waitFor(async () => (await progress.committed()) >= 3_000, 300_000, 250);

      await stack.down('redis');
      const stoppedAt = Date.now();
      await waitFor(() => processor.output.includes('dependency failed; partition paused, retrying'), OUTAGE_MS, 100);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const committedAfterSettle = await progress.committed();
      const enrichedAfterSettle = await outputs.written();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, stoppedAt + OUTAGE_MS - Date.now())));
      figures.committedDuringOutage = (await progress.committed()) - committedAfterSettle;
      // Chunks already enriched may still be produced (bounded by the in-flight window); they are
      // committed only once their statistics are stored.
      figures.outputsDuringOutage = (await outputs.written()) - enrichedAfterSettle;
      expect(processor.running, processor.output.slice(-3000)).toBe(true);
      // Offsets are committed only after the statistics are stored: none while Redis is down.
      expect(figures.committedDuringOutage, 'input records committed while Redis was down').toBe(0);

      const committedBefore = await progress.committed();
      await stack.up('redis');
      const restartedAt = Date.now();
      await waitFor(async () => (await progress.committed()) > committedBefore, 120_000, 250);
      figures.recoverySeconds = (Date.now() - restartedAt) / 1000;

      await streaming;
      await progress.waitForAllCommitted([processor], 300_000);
      const exit = await processor.stop();
      expect(exit.code, processor.output.slice(-3000)).toBe(0);
    } finally {
      await processor.ensureStopped();
      await traffic.close();
      await progress.close();
      await outputs.close();
    }

    const ledger = await Ledger.collect(kafka, { inputs: [topics.news, topics.chat], enriched: topics.enriched, dlq: topics.dlq });
    const report = ledger.report((input) => (traffic.corrupt.has(input.key?.toString() ?? '') ? 'dlq' : 'enriched'));
    const redis = new Redis(stack.redisUrl);
    try {
      const clean = await applyCleanPass(redis, ledger, { config, authorKey: TEST_AUTHOR_KEY, prefix: `${keyPrefix}_clean` });
      const windows = await compareWindows(redis, keyPrefix, `${keyPrefix}_clean`);
      printFigures({
        fault: '2 Redis stopped 20s',
        report,
        recoverySeconds: [figures.recoverySeconds],
        extra: {
          committedDuringOutage: figures.committedDuringOutage,
          outputsDuringOutage: figures.outputsDuringOutage,
          windowHashes: windows.hashes, windowDocuments: windows.documents,
        },
      });
      expect(ledgerProblems(report)).toEqual([]);
      expect(report.inputs).toBeGreaterThanOrEqual(TOTAL);
      expect(report.dlqInputs).toBe(traffic.corrupt.size);
      expect(clean.groupMismatches).toBe(0);
      expect(windows.differences).toEqual([]);
      expect(windows.documents).toBeGreaterThan(0.9 * clean.accepted);
    } finally {
      redis.disconnect();
    }
  });
});
