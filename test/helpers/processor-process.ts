// `finsentry run` as a real child process, for tests that signal, kill or measure the processor:
// synthesized ONNX models (small seeded BERTs, what `finsentry models synth` writes), a config file
// per test, the child's output, its RSS from /proc, and the consumer group's commit progress.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Admin, Kafka } from 'kafkajs';
import { parseConfig } from '../../src/config/load.js';
import type { FinsentryConfig } from '../../src/config/schema.js';
import { synthesizeModel } from '../../src/tools/models/synth/index.js';
import { waitFor } from './stack.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The author-id HMAC key the child processes get (chat author ids are pseudonymised with it). */
export const TEST_AUTHOR_KEY = 'fault-test-author-key-0000000001';

export interface ModelDirs {
  sentiment: string;
  ner: string;
}

/**
 * Tiny seeded sentiment and NER models (1 layer, hidden 32): real ONNX Runtime inference and real
 * tokenization, fast enough for tens of thousands of documents on 2 cores, and deterministic.
 */
export function synthModels(dir: string): ModelDirs {
  const sentiment = path.join(dir, 'sentiment');
  const ner = path.join(dir, 'ner');
  synthesizeModel({
    task: 'sentiment',
    layers: 1,
    hidden: 32,
    heads: 2,
    seed: 7,
    vocabSize: 400,
    out: sentiment,
  });
  synthesizeModel({ task: 'ner', layers: 1, hidden: 32, heads: 2, seed: 8, vocabFrom: sentiment, out: ner });
  return { sentiment, ner };
}

export interface ProcessorTopics {
  news: string;
  chat: string;
  enriched: string;
  dlq: string;
}

export interface ProcessorConfigOptions {
  brokers: string[];
  redisUrl: string;
  groupId: string;
  topics: ProcessorTopics;
  keyPrefix: string;
  models: ModelDirs;
  /** Merged over the defaults below (batching, limits, codec, …). */
  overrides?: Record<string, unknown>;
}

/**
 * The config (as written to the file) of a fault-test processor: evaluator off, metrics on any free
 * port, a short session timeout so that a killed member's partitions move on within seconds.
 */
export function processorConfigJson(options: ProcessorConfigOptions): Record<string, unknown> {
  const base: Record<string, unknown> = {
    kafka: {
      brokers: options.brokers,
      groupId: options.groupId,
      topics: {
        ...options.topics,
        labels: null,
        alerts: `${options.topics.enriched}.alerts`,
        late: `${options.topics.enriched}.late`,
      },
      sessionTimeout: '6s',
    },
    redis: { url: options.redisUrl, keyPrefix: options.keyPrefix },
    codec: { schemaIds: { '21': 'io.finsentry.NewsArticle', '22': 'io.finsentry.ChatMessage' } },
    models: {
      sentiment: { path: options.models.sentiment },
      ner: { path: options.models.ner },
      // the tiny models only: not the default multilingual set (+~320 MB and a 12-layer model per process)
      sets: [],
      intraOpThreads: 1,
    },
    batching: { maxBatchSize: 32, maxInFlightBatches: 2 },
    metrics: { port: 0, host: '127.0.0.1' },
    evaluator: { enabled: false },
    shutdown: { deadline: '30s' },
    log: { level: 'info' },
  };
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    const current = base[key];
    base[key] =
      typeof current === 'object' &&
      current !== null &&
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value)
        ? { ...current, ...value }
        : value;
  }
  return base;
}

/** Writes the config file; returns its path and the parsed config (what the child will run with). */
export function writeProcessorConfig(
  file: string,
  options: ProcessorConfigOptions,
): { path: string; config: FinsentryConfig } {
  const json = processorConfigJson(options);
  writeFileSync(file, JSON.stringify(json, null, 2));
  return { path: file, config: parseConfig(json, {}) };
}

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Keeps the last `limit` characters of a stream: processors log a line per dead letter. */
class Tail {
  private text = '';
  constructor(private readonly limit = 256 * 1024) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > 2 * this.limit) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text.slice(-this.limit);
  }
}

export class ProcessorProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exited>;
  private readonly tail = new Tail();
  private readonly startedAt = Date.now();
  /** The child's whole log (stdout and stderr). */
  readonly logPath: string;

  private constructor(
    readonly name: string,
    configPath: string,
  ) {
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'run', '--config', configPath],
      {
        cwd: repoRoot,
        env: { ...process.env, FINSENTRY_AUTHOR_KEY: TEST_AUTHOR_KEY },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // The whole log also goes to test-results/processes/ (gitignored): a stall seen in CI is
    // diagnosed from the full log, not only the tail that the failure message shows.
    const logDir = path.join(repoRoot, 'test-results', 'processes');
    mkdirSync(logDir, { recursive: true });
    this.logPath = path.join(logDir, `${name}-${this.startedAt}-${process.pid}.log`);
    const log = createWriteStream(this.logPath);
    this.child.once('close', () => log.end()); // after the last stdout/stderr data
    for (const stream of [this.child.stdout!, this.child.stderr!])
      stream.on('data', (d: Buffer) => {
        this.tail.push(d.toString());
        log.write(d);
      });
    this.exited = new Promise<Exited>((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  static start(configPath: string, name = 'processor'): ProcessorProcess {
    return new ProcessorProcess(name, configPath);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name}: not started`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last 256 KiB of the child's stdout and stderr (JSON log lines). */
  get output(): string {
    return this.tail.toString();
  }

  /** True once the child logged that its consumer is consuming (models loaded, group joined). */
  get consuming(): boolean {
    return this.output.includes('"pipeline consuming"');
  }

  /** True once the child logged that it joined the consumer group (it has an assignment). */
  get joined(): boolean {
    return this.output.includes('"joined consumer group"');
  }

  /** The processor's counters from its clean-stop log line (enriched, deadLettered, …); null before. */
  finalCounters(): Record<string, number> | null {
    const line = this.output.split('\n').find((l) => l.includes('"finsentry stopped cleanly"'));
    if (!line) return null;
    const parsed = JSON.parse(line) as { counters?: Record<string, number> };
    return parsed.counters ?? null;
  }

  /** Resident set size in bytes (VmRSS of /proc/<pid>/status); null once the process is gone. */
  rssBytes(): number | null {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
      return match ? Number(match[1]) * 1024 : null;
    } catch {
      return null;
    }
  }

  /** SIGKILL: no handler runs, nothing is flushed or committed (a crash, an OOM kill). */
  async kill(): Promise<Exited> {
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM and wait: the graceful stop (`finsentry run` exits 0 after committing in-flight work). */
  async stop(): Promise<Exited> {
    if (this.running) this.child.kill('SIGTERM');
    return this.exited;
  }

  /** For afterAll/finally: make sure nothing is left running. */
  async ensureStopped(): Promise<void> {
    if (this.running) await this.kill();
  }

  get uptimeMs(): number {
    return Date.now() - this.startedAt;
  }
}

/**
 * Committed offsets of a consumer group against the input topics' high watermarks, through one
 * long-lived admin client (tests poll this several times a second).
 */
export class GroupProgress {
  private admin: Admin | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly topics: readonly string[],
  ) {}

  private async client(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  /** Runs an admin call; on failure (say, the broker restarted) the next call starts a fresh client. */
  private async withAdmin<T>(call: (admin: Admin) => Promise<T>): Promise<T> {
    try {
      return await call(await this.client());
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Sum over the topics' partitions of the committed offsets (records behind the commit point). */
  async committed(): Promise<number> {
    return this.withAdmin(async (admin) => {
      const results = await admin.fetchOffsets({ groupId: this.groupId, topics: [...this.topics] });
      let total = 0;
      for (const topic of results) for (const p of topic.partitions) total += Math.max(0, Number(p.offset));
      return total;
    });
  }

  /** Sum of the high watermarks: records written to the input topics. */
  async written(): Promise<number> {
    return this.withAdmin(async (admin) => {
      let total = 0;
      for (const topic of this.topics)
        for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high);
      return total;
    });
  }

  /** True when every partition with records has its committed offset at the high watermark. */
  async allCommitted(): Promise<boolean> {
    return this.withAdmin(async (admin) => {
      const committed = new Map<string, number>();
      for (const topic of await admin.fetchOffsets({ groupId: this.groupId, topics: [...this.topics] }))
        for (const p of topic.partitions) committed.set(`${topic.topic}:${p.partition}`, Number(p.offset));
      for (const topic of this.topics)
        for (const p of await admin.fetchTopicOffsets(topic))
          if (Number(p.high) > 0 && (committed.get(`${topic}:${p.partition}`) ?? -1) < Number(p.high))
            return false;
      return true;
    });
  }

  /**
   * Waits until every input record is committed; on timeout the error says how far the group got
   * and shows the end of each processor's log, so that a stall can be diagnosed from the test output.
   */
  async waitForAllCommitted(processors: readonly ProcessorProcess[], timeoutMs: number): Promise<void> {
    try {
      await waitFor(
        async () => {
          // A processor that died (crashed, exited) will not commit anything more: fail now.
          if (processors.length > 0 && processors.every((p) => !p.running)) return 'all processors exited';
          return this.allCommitted();
        },
        timeoutMs,
        500,
      ).then((outcome) => {
        if (outcome !== true) throw new Error(String(outcome));
      });
    } catch (err) {
      const committed = await this.committed().catch(() => NaN);
      const written = await this.written().catch(() => NaN);
      const logs = processors
        .map(
          (p) => `--- ${p.name} (running: ${String(p.running)}, log ${p.logPath}):\n${p.output.slice(-4000)}`,
        )
        .join('\n');
      throw new Error(
        `${(err as Error).message}: committed ${committed} of ${written} input records\n${logs}`,
        { cause: err },
      );
    }
  }

  /** Drops the admin connection (after a broker restart the next call reconnects). */
  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    await admin?.disconnect().catch(() => {});
  }
}
