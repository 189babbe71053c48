// Fault 1 (issue #8): SIGKILL the processor (`finsentry run`, a real child process with real ONNX
// inference on synthesized models) three times while a 50,000-record stream arrives, restarting it
// each time. Nothing is flushed or committed on SIGKILL, so every restart re-reads from the last
// commit: outputs may be duplicated, none may be lost, and the Redis windows must equal a clean
// single pass exactly (the window store skips what it already applied, by offset).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKafka } from '../helpers/avro-producer.js';
import { Traffic } from '../helpers/fault-traffic.js';
import { Ledger, ledgerProblems, printFigures } from '../helpers/ledger.js';
import {
  GroupProgress,
  ProcessorProcess,
  synthModels,
  TEST_AUTHOR_KEY,
  writeProcessorConfig,
} from '../helpers/processor-process.js';
import { createTopic, deleteTopics, kafkaBrokers, redisUrl, uniqueName, waitFor } from '../helpers/stack.js';
import { applyCleanPass, compareWindows, deletePrefixes } from '../helpers/window-check.js';

const TOTAL = 50_000;
/** Kills happen once this many input records are committed: early, middle and late in the stream. */
const KILL_AT = [8_000, 20_000, 32_000];

const kafka = testKafka();
const dir = mkdtempSync(path.join(tmpdir(), 'fs-fault-kill-'));
const base = uniqueName('fs-kill');
const topics = { news: `${base}.news`, chat: `${base}.chat`, enriched: `${base}.enriched`, dlq: `${base}.dlq` };
const groupId = uniqueName('fs-kill-group');
const keyPrefix = uniqueName('fskill').replace(/-/g, '_');
const cleanPrefix = `${keyPrefix}_clean`;
const redis = new Redis(redisUrl());
const processors: ProcessorProcess[] = [];

beforeAll(async () => {
  for (const topic of Object.values(topics)) await createTopic(topic, 4);
});

afterAll(async () => {
  for (const p of processors) await p.ensureStopped();
  await deleteTopics(Object.values(topics));
  await deletePrefixes(redis, [keyPrefix, cleanPrefix]);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('fault: SIGKILL of the processor', () => {
  it('three SIGKILLs during a 50,000-record stream lose nothing and count every document once', async () => {
    const { path: configPath, config } = writeProcessorConfig(path.join(dir, 'finsentry.json'), {
      brokers: kafkaBrokers(),
      redisUrl: redisUrl(),
      groupId,
      topics,
      keyPrefix,
      models: synthModels(dir),
    });
    const progress = new GroupProgress(kafka, groupId, [topics.news, topics.chat]);
    const traffic = new Traffic(kafka, {
      prefix: 'kill',
      topics,
      seed: 11,
      baseTimeMs: Math.floor(Date.now() / 60_000) * 60_000 - 12 * 3_600_000,
      stepMs: 100,
      corruptEvery: 500,
      lateEvery: 211,
    });
    const start = (): ProcessorProcess => {
      const p = ProcessorProcess.start(configPath, `processor-${processors.length + 1}`);
      processors.push(p);
      return p;
    };
    const recovery: number[] = [];
    try {
      // The stream is produced faster than one processor on 2 cores consumes it, so each kill
      // finds records fetched, in flight and uncommitted.
      const streaming = traffic.stream(TOTAL, 2_000);
      let current = start();
      for (const threshold of KILL_AT) {
        await waitFor(async () => (await progress.committed()) >= threshold, 300_000, 250);
        const exit = await current.kill();
        expect(exit.signal).toBe('SIGKILL');
        const killedAt = Date.now();
        const committedAtKill = await progress.committed();
        current = start();
        // Recovery: from the kill until the restarted processor commits beyond the old commit point
        // (includes process start, model load, the group's session timeout for the dead member).
        await waitFor(async () => (await progress.committed()) > committedAtKill, 300_000, 250);
        recovery.push((Date.now() - killedAt) / 1000);
      }
      await streaming;
      await progress.waitForAllCommitted([current], 600_000);
      const exit = await current.stop();
      expect(exit.code, current.output.slice(-3000)).toBe(0);
    } finally {
      await traffic.close();
      await progress.close();
    }

    const ledger = await Ledger.collect(kafka, { inputs: [topics.news, topics.chat], enriched: topics.enriched, dlq: topics.dlq });
    const report = ledger.report((input) => (traffic.corrupt.has(input.key?.toString() ?? '') ? 'dlq' : 'enriched'));
    const clean = await applyCleanPass(redis, ledger, { config, authorKey: TEST_AUTHOR_KEY, prefix: cleanPrefix });
    const windows = await compareWindows(redis, keyPrefix, cleanPrefix);
    printFigures({
      fault: '1 SIGKILL x3',
      report,
      recoverySeconds: recovery,
      extra: { sent: traffic.sent, windowHashes: windows.hashes, windowFields: windows.fields, windowDocuments: windows.documents },
    });

    expect(report.inputs).toBeGreaterThanOrEqual(TOTAL);
    expect(ledgerProblems(report)).toEqual([]);
    expect(report.dlqInputs).toBe(traffic.corrupt.size);
    expect(clean.groupMismatches).toBe(0);
    expect(windows.differences).toEqual([]);
    // The reference holds every accepted document that was not late: a comparison of two empty
    // stores would pass trivially.
    expect(windows.documents).toBeGreaterThan(0.9 * clean.accepted);
    expect(processors).toHaveLength(KILL_AT.length + 1);
  });
});
