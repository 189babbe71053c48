// What every fault test sets up the same way: a temp dir with synthesized models, four topics (news,
// chat, enriched, dlq), a consumer group and a Redis key prefix, on the shared stack or on a private
// server for a component the test stops; `finsentry run` children and their config; the traffic; and
// at the end the ledger and the window comparison against a clean single pass.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, expect } from 'vitest';
import type { FinsentryConfig } from '../../src/config/schema.js';
import { testKafka } from './avro-producer.js';
import { Traffic, type TrafficOptions } from './fault-traffic.js';
import { Ledger, type LedgerReport } from './ledger.js';
import { PrivateStack, type StackComponent } from './private-stack.js';
import {
  GroupProgress,
  ProcessorProcess,
  synthModels,
  TEST_AUTHOR_KEY,
  writeProcessorConfig,
  type ProcessorTopics,
} from './processor-process.js';
import { createTopic, deleteTopics, kafkaBrokers, redisUrl, uniqueName } from './stack.js';
import {
  applyCleanPass,
  compareWindows,
  deletePrefixes,
  type CleanPassResult,
  type WindowComparison,
} from './window-check.js';

export interface FaultFixtureOptions {
  /** Temp dir name: `fs-fault-<dir>-…`. */
  dir: string;
  /** Names the topics (`fs-<name>-….news`), the group (`fs-<name>-group-…`) and the key prefix (`fs<name>`). */
  name: string;
  /** Components run as a private server (the test stops or restarts them); the rest are the shared stack's. */
  privateStack?: readonly StackComponent[];
}

export interface WindowCheck {
  clean: CleanPassResult;
  windows: WindowComparison;
}

export interface FaultOutcome extends WindowCheck {
  ledger: Ledger;
  report: LedgerReport;
}

export class FaultFixture {
  readonly dir: string;
  readonly topics: ProcessorTopics;
  readonly groupId: string;
  readonly keyPrefix: string;
  readonly cleanPrefix: string;
  /** Every processor `start` started; afterAll makes sure none is left running. */
  readonly processors: ProcessorProcess[] = [];
  private privateStack: PrivateStack | undefined;
  private kafkaClient: Kafka | undefined;
  private redisClient: Redis | undefined;

  constructor(private readonly options: FaultFixtureOptions) {
    const { dir, name } = options;
    this.dir = mkdtempSync(path.join(tmpdir(), `fs-fault-${dir}-`));
    // Names on a private server need not be unique: nobody else uses it.
    const base = uniqueName(`fs-${name}`);
    this.topics = this.isPrivate('kafka')
      ? { news: 'fault.news', chat: 'fault.chat', enriched: 'fault.enriched', dlq: 'fault.dlq' }
      : { news: `${base}.news`, chat: `${base}.chat`, enriched: `${base}.enriched`, dlq: `${base}.dlq` };
    this.groupId = uniqueName(`fs-${name}-group`);
    this.keyPrefix = this.isPrivate('redis') ? `fs${name}` : uniqueName(`fs${name}`).replace(/-/g, '_');
    this.cleanPrefix = `${this.keyPrefix}_clean`;
    if (!this.isPrivate('kafka')) this.kafkaClient = testKafka();
    if (!this.isPrivate('redis')) this.redisClient = new Redis(redisUrl());
  }

  private isPrivate(component: StackComponent): boolean {
    return this.options.privateStack?.includes(component) ?? false;
  }

  /** The private servers (started in beforeAll). */
  get stack(): PrivateStack {
    if (!this.privateStack) throw new Error('no private stack: not started, or none asked for');
    return this.privateStack;
  }

  get kafka(): Kafka {
    this.kafkaClient ??= this.stack.kafka();
    return this.kafkaClient;
  }

  get brokers(): string[] {
    return this.isPrivate('kafka') ? this.stack.kafkaBrokers : kafkaBrokers();
  }

  get redisUrl(): string {
    return this.isPrivate('redis') ? this.stack.redisUrl : redisUrl();
  }

  get redis(): Redis {
    this.redisClient ??= new Redis(this.stack.redisUrl);
    return this.redisClient;
  }

  async setUp(): Promise<void> {
    const components = this.options.privateStack ?? [];
    if (components.length > 0) this.privateStack = await PrivateStack.start(components);
    if (this.isPrivate('kafka')) await this.stack.createTopics(Object.values(this.topics), 4);
    else for (const topic of Object.values(this.topics)) await createTopic(topic, 4);
  }

  async tearDown(): Promise<void> {
    for (const p of this.processors) await p.ensureStopped();
    if (!this.isPrivate('kafka')) await deleteTopics(Object.values(this.topics));
    if (!this.isPrivate('redis') && this.redisClient)
      await deletePrefixes(this.redisClient, [this.keyPrefix, this.cleanPrefix]);
    this.redisClient?.disconnect();
    await this.privateStack?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Writes the processors' config (synthesized models in the temp dir). */
  writeConfig(overrides?: Record<string, unknown>): { path: string; config: FinsentryConfig } {
    // The windows are compared counter for counter with a clean single pass (./window-check.ts).
    // With story dedup the copy of a story that counts in its issuer depends on how partitions
    // interleave (docs/guarantees.md, effectively-once), so these processors count every document.
    overrides = { stats: { stories: { kinds: [] } }, ...overrides };
    return writeProcessorConfig(path.join(this.dir, 'finsentry.json'), {
      brokers: this.brokers,
      redisUrl: this.redisUrl,
      groupId: this.groupId,
      topics: this.topics,
      keyPrefix: this.keyPrefix,
      models: synthModels(this.dir),
      overrides,
    });
  }

  /** The group's progress on the given topics (by default the inputs); `close()` it in finally. */
  progress(topics: readonly string[] = [this.topics.news, this.topics.chat]): GroupProgress {
    return new GroupProgress(this.kafka, this.groupId, topics);
  }

  /** Traffic onto the input topics, event times from 12 hours ago (on a minute boundary) on. */
  traffic(options: Omit<TrafficOptions, 'topics' | 'baseTimeMs'>): Traffic {
    return new Traffic(this.kafka, {
      ...options,
      topics: this.topics,
      baseTimeMs: Math.floor(Date.now() / 60_000) * 60_000 - 12 * 3_600_000,
    });
  }

  start(configPath: string, name?: string): ProcessorProcess {
    const p = ProcessorProcess.start(configPath, name);
    this.processors.push(p);
    return p;
  }

  collectLedger(): Promise<Ledger> {
    const { news, chat, enriched, dlq } = this.topics;
    return Ledger.collect(this.kafka, { inputs: [news, chat], enriched, dlq });
  }

  /** Applies the ledger's documents in a clean single pass and compares the windows with it. */
  async checkWindows(ledger: Ledger, config: FinsentryConfig): Promise<WindowCheck> {
    const clean = await applyCleanPass(this.redis, ledger, {
      config,
      authorKey: TEST_AUTHOR_KEY,
      prefix: this.cleanPrefix,
    });
    const windows = await compareWindows(this.redis, this.keyPrefix, this.cleanPrefix);
    return { clean, windows };
  }

  /** The ledger (corrupt records expected on the DLQ, the rest enriched) and the window check. */
  async outcome(traffic: Traffic, config: FinsentryConfig): Promise<FaultOutcome> {
    const ledger = await this.collectLedger();
    const report = ledger.report((input) =>
      traffic.corrupt.has(input.key?.toString() ?? '') ? 'dlq' : 'enriched',
    );
    return { ledger, report, ...(await this.checkWindows(ledger, config)) };
  }
}

/** A fixture whose servers, topics and cleanup run in this file's beforeAll and afterAll. */
export function faultFixture(options: FaultFixtureOptions): FaultFixture {
  const fixture = new FaultFixture(options);
  beforeAll(() => fixture.setUp());
  afterAll(() => fixture.tearDown());
  return fixture;
}

/** Waits until `processors` have committed every input record, then stops each of `stop` cleanly. */
export async function commitAllAndStop(
  progress: GroupProgress,
  processors: readonly ProcessorProcess[],
  timeoutMs: number,
  stop: readonly ProcessorProcess[] = processors,
): Promise<void> {
  await progress.waitForAllCommitted(processors, timeoutMs);
  for (const p of stop) await expectCleanStop(p);
}

/** SIGTERM; the processor must exit 0 (its log tail is the failure message). */
export async function expectCleanStop(processor: ProcessorProcess): Promise<void> {
  const exit = await processor.stop();
  expect(exit.code, processor.output.slice(-3000)).toBe(0);
}

export function expectRunning(processor: ProcessorProcess): void {
  expect(processor.running, processor.output.slice(-3000)).toBe(true);
}

/**
 * The windows equal the clean pass. The reference holds every accepted document that was not late,
 * so by default most accepted documents must be in it: two empty stores would compare equal.
 */
export function expectWindowsMatch(
  { clean, windows }: WindowCheck,
  minDocuments = 0.9 * clean.accepted,
): void {
  expect(clean.groupMismatches).toBe(0);
  expect(windows.differences).toEqual([]);
  expect(windows.documents).toBeGreaterThan(minDocuments);
}
