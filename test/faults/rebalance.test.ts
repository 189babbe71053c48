// Fault 4 (issue #8): consumer-group rebalances mid-stream with real `finsentry run` processes — a
// second and a third member join while the first consumes, then the first leaves (SIGTERM). Each
// change moves partitions while batches are in flight; a batch whose partition was revoked is given
// up uncommitted and re-read by the new owner. Nothing may be lost and every document is counted
// once in the windows however often it was delivered.
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

const TOTAL = 20_000;

const kafka = testKafka();
const dir = mkdtempSync(path.join(tmpdir(), 'fs-fault-rebalance-'));
const base = uniqueName('fs-rebal');
const topics = { news: `${base}.news`, chat: `${base}.chat`, enriched: `${base}.enriched`, dlq: `${base}.dlq` };
const groupId = uniqueName('fs-rebal-group');
const keyPrefix = uniqueName('fsrebal').replace(/-/g, '_');
const cleanPrefix = `${keyPrefix}_clean`;
const redis = new Redis(redisUrl());
const members: ProcessorProcess[] = [];

beforeAll(async () => {
  for (const topic of Object.values(topics)) await createTopic(topic, 4);
});

afterAll(async () => {
  for (const m of members) await m.ensureStopped();
  await deleteTopics(Object.values(topics));
  await deletePrefixes(redis, [keyPrefix, cleanPrefix]);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('fault: consumer-group rebalances', () => {
  it('a second and a third member joining and the first leaving mid-stream lose nothing', async () => {
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
      prefix: 'reb',
      topics,
      seed: 44,
      baseTimeMs: Math.floor(Date.now() / 60_000) * 60_000 - 12 * 3_600_000,
      stepMs: 120,
      corruptEvery: 400,
      lateEvery: 173,
    });
    const start = (name: string): ProcessorProcess => {
      const m = ProcessorProcess.start(configPath, name);
      members.push(m);
      return m;
    };
    const recovery: number[] = [];
    /** From a membership change until the group commits beyond where it stood once the change took effect. */
    const recovered = async (changedAt: number, changed: () => boolean): Promise<void> => {
      await waitFor(changed, 180_000, 100);
      const at = await progress.committed();
      await waitFor(async () => (await progress.committed()) > at, 180_000, 250);
      recovery.push((Date.now() - changedAt) / 1000);
    };
    try {
      const streaming = traffic.stream(TOTAL, 450);
      const a = start('member-a');
      await waitFor(async () => (await progress.committed()) >= 3_000, 300_000, 250);

      const b = start('member-b');
      await recovered(Date.now(), () => b.joined);
      const c = start('member-c');
      await recovered(Date.now(), () => c.joined);

      const leftAt = Date.now();
      const exitA = await a.stop();
      expect(exitA.code, a.output.slice(-3000)).toBe(0);
      await recovered(leftAt, () => true);

      await streaming;
      await progress.waitForAllCommitted(members, 300_000);
      for (const m of [b, c]) {
        const exit = await m.stop();
        expect(exit.code, m.output.slice(-3000)).toBe(0);
      }
    } finally {
      await traffic.close();
      await progress.close();
    }

    const ledger = await Ledger.collect(kafka, { inputs: [topics.news, topics.chat], enriched: topics.enriched, dlq: topics.dlq });
    const report = ledger.report((input) => (traffic.corrupt.has(input.key?.toString() ?? '') ? 'dlq' : 'enriched'));
    const clean = await applyCleanPass(redis, ledger, { config, authorKey: TEST_AUTHOR_KEY, prefix: cleanPrefix });
    const windows = await compareWindows(redis, keyPrefix, cleanPrefix);
    const perMember = Object.fromEntries(members.map((m) => [m.name, m.finalCounters()?.enriched ?? null]));
    printFigures({
      fault: '4 rebalances (b joins, c joins, a leaves)',
      report,
      recoverySeconds: recovery,
      extra: { enrichedPerMember: perMember, windowHashes: windows.hashes, windowDocuments: windows.documents },
    });
    expect(ledgerProblems(report)).toEqual([]);
    expect(report.inputs).toBeGreaterThanOrEqual(TOTAL);
    expect(report.dlqInputs).toBe(traffic.corrupt.size);
    // Every member did work: the partitions really moved.
    for (const m of members) expect(m.finalCounters()?.enriched ?? 0, m.name).toBeGreaterThan(0);
    expect(clean.groupMismatches).toBe(0);
    expect(windows.differences).toEqual([]);
    expect(windows.documents).toBeGreaterThan(0.9 * clean.accepted);
  });
});
