// Fault 3 (issue #8): the Kafka broker restarted mid-stream — once gracefully (SIGTERM, controlled
// shutdown, down for a few seconds) and once crashed (SIGKILL) — while `finsentry run` consumes and
// traffic keeps being produced. The processor must reconnect and resume on its own (no exit), lose
// nothing, and the windows must equal a clean single pass. The broker is a private one started by
// scripts/stack/stack.sh on free ports: restarting the shared broker would break other tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { redisUrl, uniqueName, waitFor } from '../helpers/stack.js';
import { applyCleanPass, compareWindows, deletePrefixes } from '../helpers/window-check.js';

const TOTAL = 16_000;
/** How long the broker stays down in the graceful restart, beyond its shutdown and start-up. */
const DOWN_MS = 5_000;

const dir = mkdtempSync(path.join(tmpdir(), 'fs-fault-broker-'));
const topics = { news: 'fault.news', chat: 'fault.chat', enriched: 'fault.enriched', dlq: 'fault.dlq' };
const groupId = uniqueName('fs-broker-group');
const keyPrefix = uniqueName('fsbroker').replace(/-/g, '_');
const cleanPrefix = `${keyPrefix}_clean`;
const redis = new Redis(redisUrl());
let stack: PrivateStack;

beforeAll(async () => {
  stack = await PrivateStack.start(['kafka']);
  await stack.createTopics(Object.values(topics), 4);
});

afterAll(async () => {
  await stack?.stop();
  await deletePrefixes(redis, [keyPrefix, cleanPrefix]);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('fault: Kafka broker restart', () => {
  it('a graceful and a crash restart of the broker mid-stream: the processor reconnects and loses nothing', async () => {
    const kafka = stack.kafka();
    const { path: configPath, config } = writeProcessorConfig(path.join(dir, 'finsentry.json'), {
      brokers: stack.kafkaBrokers,
      redisUrl: redisUrl(),
      groupId,
      topics,
      keyPrefix,
      models: synthModels(dir),
    });
    const progress = new GroupProgress(kafka, groupId, [topics.news, topics.chat]);
    const traffic = new Traffic(kafka, {
      prefix: 'brk',
      topics,
      seed: 33,
      baseTimeMs: Math.floor(Date.now() / 60_000) * 60_000 - 12 * 3_600_000,
      stepMs: 150,
      corruptEvery: 400,
      lateEvery: 131,
    });
    const processor = ProcessorProcess.start(configPath);
    const recovery: number[] = [];
    const disruption: number[] = [];
    const restart = async (how: 'graceful' | 'crash'): Promise<void> => {
      const faultAt = Date.now();
      if (how === 'graceful') {
        await stack.down('kafka');
        await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
      } else {
        await stack.crash('kafka');
      }
      await stack.up('kafka');
      const upAt = Date.now();
      const before = await waitFor(() => progress.committed(), 60_000, 250);
      // Recovery: from the broker answering again until the processor commits beyond that point.
      await waitFor(async () => (await progress.committed()) > before, 180_000, 250);
      recovery.push((Date.now() - upAt) / 1000);
      disruption.push((Date.now() - faultAt) / 1000);
      expect(processor.running, processor.output.slice(-3000)).toBe(true);
    };
    try {
      const streaming = traffic.stream(TOTAL, 500);
      await waitFor(async () => (await progress.committed()) >= 3_000, 300_000, 250);
      await restart('graceful');
      await waitFor(async () => (await progress.committed()) >= 9_000, 300_000, 250);
      await restart('crash');
      await streaming;
      await progress.waitForAllCommitted([processor], 300_000);
      const exit = await processor.stop();
      expect(exit.code, processor.output.slice(-3000)).toBe(0);
    } finally {
      await processor.ensureStopped();
      await traffic.close();
      await progress.close();
    }

    const ledger = await Ledger.collect(kafka, { inputs: [topics.news, topics.chat], enriched: topics.enriched, dlq: topics.dlq });
    const report = ledger.report((input) => (traffic.corrupt.has(input.key?.toString() ?? '') ? 'dlq' : 'enriched'));
    const clean = await applyCleanPass(redis, ledger, { config, authorKey: TEST_AUTHOR_KEY, prefix: cleanPrefix });
    const windows = await compareWindows(redis, keyPrefix, cleanPrefix);
    printFigures({
      fault: '3 Kafka broker restarted (graceful, then SIGKILL)',
      report,
      recoverySeconds: recovery,
      extra: { sent: traffic.sent, secondsFromStopToCommitting: disruption, windowHashes: windows.hashes, windowDocuments: windows.documents },
    });
    expect(ledgerProblems(report)).toEqual([]);
    // A send retried across the restart may have written a record twice: more inputs than sent ids.
    expect(report.inputIds).toBe(traffic.sent);
    expect(new Set([...ledger.dead.values()].flat().map((d) => d.key))).toEqual(traffic.corrupt);
    expect(clean.groupMismatches).toBe(0);
    expect(windows.differences).toEqual([]);
    expect(windows.documents).toBeGreaterThan(0.9 * clean.accepted);
  });
});
