import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { pino, type Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { decodeAlertEvent, type AlertEvent } from '../../alerts/events.js';
import { readOffsetSnapshot } from '../../alerts/pipeline-signals.js';
import { formatDuration } from '../../config/duration.js';
import { loadConfig } from '../../config/load.js';
import type { FinsentryConfig } from '../../config/schema.js';
import { findOnnxFile } from '../../inference/model.js';
import { ensureTopics } from '../../io/kafka/admin.js';
import { buildKafka } from '../../io/kafka/client.js';
import { OutputProducer } from '../../io/kafka/producer.js';
import { createRedisClient } from '../../io/redis/client.js';
import { RedisWindowStore, windowStoreOptions } from '../../io/redis/window-store.js';
import { readDeadLetterHeaders } from '../../pipeline/dlq.js';
import { schemaIdsFromConfig } from '../scenarios/encoding.js';
import { generateScenario, type ScenarioRun } from '../scenarios/generate.js';
import type { ReplayMessage } from '../scenarios/recorded.js';
import { replayMessages, type ReplayProgress } from '../scenarios/replay.js';
import { AlertLog } from './alert-log.js';
import { buildDemoConfig, DEMO_EVALUATOR_INTERVAL_MS, demoNames, type DemoConfig } from './config.js';
import { CounterHistory, counterPoint, readFigures, type Figures } from './figures.js';
import { MetricSet } from './metrics-text.js';
import { buildSummary, renderSummary, type DeadLetterRead, type DemoSummary } from './summary.js';
import {
  progressAlertLine,
  progressLine,
  renderView,
  type DemoPhase,
  type ViewAlert,
  type ViewState,
} from './view.js';

/**
 * `finsentry demo`, the I/O side: starts `finsentry run` as a child process on the demo's own
 * topics, consumer group and Redis prefix (src/tools/demo/config.ts), replays the `mixed` scenario into it
 * from this process, watches the service's /metrics, the alerts topic and the DLQ, draws the live view
 * (src/tools/demo/view.ts) and ends with the summary (src/tools/demo/summary.ts).
 *
 * The service runs in its own process group, so a Ctrl-C in the terminal reaches only the demo, which
 * stops things in order: replay first, then the service (SIGTERM: it finishes and commits its
 * in-flight batches), then its own clients. A second Ctrl-C kills the service and exits at once.
 *
 * Every run keeps its state in `.stack/demo/<run>/` (config, service log, ground truth, summary). At
 * start, the topics, consumer groups, Redis keys and directories of earlier runs that are no longer
 * running are deleted (unless --keep-previous): each run is isolated by name, so this is only
 * housekeeping, never needed for correctness.
 */

export const DEFAULT_METRICS_PORT = 9464;

/** Pipeline metrics that measure this machine's capacity rather than the traffic (see SummaryInput). */
const CAPACITY_METRICS = new Set(['consumer_lag', 'stalled_seconds', 'input_rate']);
export const DEFAULT_PROMETHEUS_URL = 'http://127.0.0.1:9090';
export const DEFAULT_ALERTMANAGER_URL = 'http://127.0.0.1:9093';

export interface DemoOptions {
  /** Event-time span of the scenario. */
  durationMs: number;
  /** Wall-clock messages per second produced. */
  rate: number;
  /** Event time runs this many times faster than wall time. */
  speedup: number;
  seed: number;
  universe: number | undefined;
  /** Share of malformed messages. */
  poison: number;
  metricsPort: number;
  /** True when the user chose the port (a busy port is then an error, not a fallback). */
  metricsPortExplicit: boolean;
  model: string | undefined;
  nerModel: string | undefined;
  device: 'cpu' | 'cuda' | undefined;
  config: string | undefined;
  brokers: string[] | undefined;
  redisUrl: string | undefined;
  view: boolean;
  keepRunning: boolean;
  keepPrevious: boolean;
  summaryJson: string | undefined;
  /** Exit 3 when the summary's result is FAIL. */
  check: boolean;
}

/** A problem the user can act on: printed as is, exit 1. */
export class DemoError extends Error {
  override name = 'DemoError';
}

class Interrupted extends Error {
  override name = 'Interrupted';
}

function repoRoot(): string {
  // src/tools/demo/demo.ts and dist/tools/demo/demo.js are both three levels below the repository root.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

function newRunId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tcpAnswers(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function httpOk(url: string, timeoutMs = 1500): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Whether that Prometheus has a scrape target on this host and port (the local stack's: 127.0.0.1:9464). */
async function prometheusScrapes(prometheusUrl: string, port: number): Promise<boolean> {
  try {
    const res = await fetch(`${prometheusUrl}/api/v1/targets?state=active`, {
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await res.json()) as { data?: { activeTargets?: Array<{ scrapeUrl?: string }> } };
    return (body.data?.activeTargets ?? []).some((t) => {
      try {
        const u = new URL(t.scrapeUrl ?? '');
        return ['127.0.0.1', 'localhost'].includes(u.hostname) && Number(u.port) === port;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function checkModelDir(dir: string, what: string, flag: string): void {
  const hint =
    `the committed default models are models/finsentry-sentiment and models/finsentry-ner (rebuilt by ` +
    `\`npm run models:train\`); use ${flag} DIR for another model directory, e.g. a small synthesized one:\n` +
    `    node dist/cli/main.js models synth --task ${what === 'sentiment' ? 'sentiment' : 'ner'} --vocab-from test/fixtures/inference --out tmp/demo-models/${what === 'sentiment' ? 'sentiment' : 'ner'}\n` +
    `  (synthesized models have random weights: the demo runs, but detects nothing meaningful)`;
  if (!existsSync(dir)) throw new DemoError(`${what} model directory ${dir} does not exist:\n  ${hint}`);
  if (!findOnnxFile(dir))
    throw new DemoError(
      `${what} model directory ${dir} has no model.onnx (or model_quantized.onnx):\n  ${hint}`,
    );
  for (const file of ['tokenizer.json', 'config.json'])
    if (!existsSync(path.join(dir, file)))
      throw new DemoError(`${what} model directory ${dir} has no ${file}:\n  ${hint}`);
}

function readBaseConfig(file: string | undefined): Record<string, unknown> {
  if (!file) return {};
  loadConfig(file); // validates, with errors that name the field
  const raw: unknown = parseYaml(readFileSync(file, 'utf8'));
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw)
    ? (raw as Record<string, unknown>)
    : {};
}

function hostPortOf(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
}

/** What a run directory's demo.json says (for cleaning up runs that ended). */
interface RunState {
  runId: string;
  demoPid: number;
  servicePid?: number;
  configPath: string;
  startedAt: string;
}

interface Output {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Reads the alerts and DLQ topics from the beginning for the whole run (a throw-away group, nothing committed). */
class TopicWatcher {
  readonly alerts = new AlertLog();
  readonly deadLetters: DeadLetterRead[] = [];
  private readonly deadLetterKeys = new Set<string>();
  private readonly nextOffset = new Map<string, bigint>();
  private consumer: Consumer | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly topics: { alerts: string; dlq: string },
    private readonly onAlert: (event: AlertEvent) => void,
    private readonly logger: Logger,
  ) {}

  get deadLettersSeen(): number {
    return this.deadLetterKeys.size;
  }

  async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: 10_000,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topics.alerts, this.topics.dlq], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        this.nextOffset.set(`${topic}:${partition}`, BigInt(message.offset) + 1n);
        if (topic === this.topics.alerts) {
          if (!message.value) return;
          try {
            const event = decodeAlertEvent(message.value);
            if (this.alerts.add(event)) this.onAlert(event);
          } catch (err) {
            this.logger.warn({ err, offset: message.offset }, 'undecodable alert event');
          }
          return;
        }
        const key = message.key ? message.key.toString('utf8') : null;
        const reason = readDeadLetterHeaders(message.headers).reason ?? null;
        this.deadLetters.push({ key, reason });
        if (key !== null) this.deadLetterKeys.add(key);
      },
    });
  }

  /** True once every record now in both topics has been read. */
  async caughtUp(admin: Admin): Promise<boolean> {
    for (const topic of [this.topics.alerts, this.topics.dlq]) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const high = BigInt(p.high);
        if (high <= BigInt(p.low)) continue;
        if ((this.nextOffset.get(`${topic}:${p.partition}`) ?? 0n) < high) return false;
      }
    }
    return true;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}

/** The `finsentry run` child process: output to the run log, the metrics port from its log line. */
class ServiceProcess {
  readonly child: ChildProcess;
  port: number | null = null;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<void>;
  private readonly tail: string[] = [];

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv, log: WriteStream) {
    // Own process group: the terminal's Ctrl-C reaches the demo only, which then stops the service in order.
    this.child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
      this.child.once('error', (err) => {
        this.tail.push(`spawn failed: ${err.message}`);
        this.exit = { code: null, signal: null };
        resolve();
      });
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        log.write(`${line}\n`);
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
        this.parse(line);
      });
    }
  }

  private parse(line: string): void {
    if (!line.startsWith('{')) return;
    try {
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg?.startsWith('ops server listening') && typeof entry.port === 'number')
        this.port = entry.port;
    } catch {
      // not a log line of ours
    }
  }

  /** The last log lines, messages only when they are pino JSON. */
  lastLines(n = 12): string[] {
    return this.tail.slice(-n).map((line) => {
      try {
        const e = JSON.parse(line) as { msg?: string; err?: { message?: string } };
        return e.msg
          ? `${e.msg}${e.err?.message && !e.msg.includes(e.err.message) ? `: ${e.err.message}` : ''}`
          : line;
      } catch {
        return line;
      }
    });
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export async function runDemo(
  o: DemoOptions,
  out: Output = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const root = repoRoot();
  // Run directories live next to the local stack's state (FINSENTRY_STACK_DIR, as scripts/stack/stack.sh);
  // FINSENTRY_DEMO_DIR puts them elsewhere (tests use a temporary directory).
  const demoDir =
    process.env.FINSENTRY_DEMO_DIR ??
    path.join(process.env.FINSENTRY_STACK_DIR ?? path.join(root, '.stack'), 'demo');
  const runId = newRunId();
  const runDir = path.join(demoDir, runId);
  const say = (line: string) => out.stderr.write(`finsentry demo: ${line}\n`);
  const tty = o.view && out.stdout.isTTY === true;

  // ---- configuration and pre-flight checks -------------------------------------------------
  const base = readBaseConfig(o.config);
  const baseModels = (base.models ?? {}) as { sentiment?: { path?: string }; ner?: { path?: string } | null };
  const sentimentModel = o.model
    ? path.resolve(o.model)
    : baseModels.sentiment?.path
      ? path.resolve(baseModels.sentiment.path)
      : path.join(root, 'models', 'finsentry-sentiment');
  const nerModel = o.nerModel
    ? path.resolve(o.nerModel)
    : baseModels.ner?.path
      ? path.resolve(baseModels.ner.path)
      : path.join(root, 'models', 'finsentry-ner');
  checkModelDir(sentimentModel, 'sentiment', '--model');
  checkModelDir(nerModel, 'NER', '--ner-model');

  let metricsPort = o.metricsPort;
  const probe: DemoConfig = buildDemoConfig({
    runId,
    base,
    sentimentModel,
    nerModel,
    metricsPort,
    executionProvider: o.device,
    brokers: o.brokers,
    redisUrl: o.redisUrl,
    env: process.env,
  });
  const metricsHost = probe.config.metrics.host === '0.0.0.0' ? '127.0.0.1' : probe.config.metrics.host;
  if (metricsPort !== 0 && !(await portFree(metricsPort, probe.config.metrics.host))) {
    if (o.metricsPortExplicit)
      throw new DemoError(
        `metrics port ${metricsPort} is in use (another finsentry, a demo or a test?): choose another with --metrics-port, or 0 for any free port`,
      );
    say(
      `port ${metricsPort} (the local Prometheus' scrape target) is in use; the service takes a free port instead and Prometheus will not scrape this run`,
    );
    metricsPort = 0;
  }
  const demo =
    metricsPort === o.metricsPort
      ? probe
      : buildDemoConfig({
          runId,
          base,
          sentimentModel,
          nerModel,
          metricsPort,
          executionProvider: o.device,
          brokers: o.brokers,
          redisUrl: o.redisUrl,
          env: process.env,
        });
  const config: FinsentryConfig = demo.config;
  const names = demoNames(runId);

  const broker = hostPortOf(config.kafka.brokers[0]!);
  if (!(await tcpAnswers(broker.host, broker.port)))
    throw new DemoError(
      `Kafka does not answer at ${config.kafka.brokers[0]}: start the local stack with \`bash scripts/stack/stack.sh up --prometheus\` (\`npm run demo\` does this), or pass --brokers`,
    );
  const redisTarget = config.redis.cluster?.[0]
    ? hostPortOf(config.redis.cluster[0])
    : (() => {
        const u = new URL(config.redis.url);
        return { host: u.hostname, port: Number(u.port || 6379) };
      })();
  if (!(await tcpAnswers(redisTarget.host, redisTarget.port)))
    throw new DemoError(
      `Redis does not answer at ${redisTarget.host}:${redisTarget.port}: start the local stack with \`bash scripts/stack/stack.sh up --prometheus\`, or pass --redis-url`,
    );
  const prometheusUrl = process.env.FINSENTRY_PROMETHEUS_URL ?? DEFAULT_PROMETHEUS_URL;
  const alertmanagerUrl = process.env.FINSENTRY_ALERTMANAGER_URL ?? DEFAULT_ALERTMANAGER_URL;
  const [prometheusUp, alertmanagerUp] = await Promise.all([
    httpOk(`${prometheusUrl}/-/ready`),
    httpOk(`${alertmanagerUrl}/-/ready`),
  ]);
  if (!prometheusUp)
    say(
      `Prometheus does not answer at ${prometheusUrl} (start it with scripts/stack/stack.sh up --prometheus); the demo runs without it`,
    );

  mkdirSync(runDir, { recursive: true });
  const configPath = path.join(runDir, 'finsentry.json');
  const logPath = path.join(runDir, 'run.log');
  writeFileSync(configPath, `${JSON.stringify(demo.raw, null, 2)}\n`);
  const state: RunState = { runId, demoPid: process.pid, configPath, startedAt: new Date().toISOString() };
  const writeState = () =>
    writeFileSync(path.join(runDir, 'demo.json'), `${JSON.stringify(state, null, 2)}\n`);
  writeState();

  const logger: Logger = pino(
    { level: 'info', base: { pid: process.pid, component: 'demo' } },
    pino.destination({ dest: path.join(runDir, 'demo.log'), sync: false }),
  );
  const kafka = buildKafka(config.kafka, logger);
  const admin = kafka.admin();
  await admin.connect();

  if (!o.keepPrevious) await cleanPreviousRuns(demoDir, runId, admin, config, logger, say);

  // ---- signals -------------------------------------------------------------------------------
  const abort = new AbortController();
  let signals = 0;
  let service: ServiceProcess | undefined;
  let phase: DemoPhase = 'starting';
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      out.stderr.write(`\nfinsentry demo: second ${signal}: killing the service and exiting\n`);
      if (service?.running) service.child.kill('SIGKILL');
      process.exit(130);
    }
    if (phase !== 'done') say(`${signal}: stopping (replay, then the service; Ctrl-C again to kill)`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // Last resort: the service never outlives the demo, whatever ends it.
  const onExit = () => {
    if (service?.running) service.child.kill('SIGTERM');
    if (tty) out.stdout.write('\x1b[?25h');
  };
  process.on('exit', onExit);
  const check = () => {
    if (abort.signal.aborted) throw new Interrupted('interrupted');
  };

  const startedAtMs = Date.now();
  let watcher: TopicWatcher | undefined;
  let producer: OutputProducer | undefined;
  let scenario: ScenarioRun | undefined;
  let replay: Promise<ReplayProgress> | undefined;
  let replayStartedAtMs: number | null = null;
  // Updated from callbacks (scrapes, replay progress); a holder object so that TypeScript does not
  // narrow them to their initial null.
  const live: { figures: Figures | null; progress: ReplayProgress | null } = {
    figures: null,
    progress: null,
  };
  let timer: NodeJS.Timeout | undefined;
  let interrupted = false;
  let failure: unknown;
  let summary: DemoSummary | undefined;
  const history = new CounterHistory();
  const recentAlerts: ViewAlert[] = [];
  const metricsUrl = () => `http://${metricsHost}:${service?.port ?? metricsPort}/metrics`;

  const eventRate = o.rate / o.speedup;
  const plannedTotal = Math.round((o.durationMs / 1000) * eventRate);
  let eventStartMs = 0;
  let eventEndMs = 0;
  const surgeRule = demo.rules.find((r) => r.kind === 'sentiment' && r.dimension === 'issuer');
  const fairnessRule = demo.rules.find((r) => r.kind === 'fairness' && r.dimension === 'region');
  // After the last record is committed, a few more evaluator rounds at the final watermark (under the
  // event clock, alert states cannot change once the watermark stops).
  const settleMs = 3 * DEMO_EVALUATOR_INTERVAL_MS;

  const viewState = (): ViewState => ({
    runId,
    scenario: 'mixed',
    seed: o.seed,
    phase,
    startedAtMs,
    nowMs: Date.now(),
    eventStartMs,
    eventEndMs,
    speedup: o.speedup,
    replay: {
      sent: live.progress?.sent ?? 0,
      // The plan is an estimate (arrivals are random); the count is exact once the generator is done.
      total: scenario?.truth.complete ? scenario.truth.counts.total : plannedTotal,
      ratePerSecond: live.progress?.rate ?? 0,
      eventTimeMs: live.progress?.eventTimeMs ?? null,
    },
    figures: live.figures,
    alerts: recentAlerts,
    activeAlerts: watcher?.alerts.active() ?? [],
    deadLettersRead: watcher?.deadLettersSeen ?? 0,
    issuerMinDocuments: surgeRule?.minSamples ?? config.stats.minSamples,
    issuerWindow: formatDuration(surgeRule?.window ?? 300_000),
    fairnessWindow: formatDuration(fairnessRule?.window ?? 3_600_000),
    metricsUrl: metricsUrl(),
    prometheusUrl: prometheusUp ? prometheusUrl : null,
  });

  let lastProgressLine = 0;
  const draw = (force = false) => {
    const s = viewState();
    if (tty) {
      const width = Math.max(60, (out.stdout.columns ?? 100) - 1);
      const lines = renderView(s, width);
      out.stdout.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
    } else if (force || s.nowMs - lastProgressLine >= 5_000) {
      lastProgressLine = s.nowMs;
      out.stdout.write(`${progressLine(s)}\n`);
    }
  };
  const setPhase = (next: DemoPhase) => {
    phase = next;
    if (!tty) draw(true);
  };

  let maxWatermarkMs = 0;
  let scraped = false;
  let scraping = false;
  const scrape = async (): Promise<void> => {
    // One scrape at a time: a busy service answers slowly, and piling up requests would not help it.
    if (!service?.port || scraping) return;
    scraping = true;
    try {
      const res = await fetch(`http://${metricsHost}:${service.port}/metrics`, {
        signal: AbortSignal.timeout(5_000),
      });
      if (!res.ok) return;
      const set = MetricSet.parse(await res.text());
      const now = Date.now();
      history.push(counterPoint(set, now));
      const f = readFigures(set, history, now);
      // The gauge follows the partition of the latest batch; the store's watermark (what the windows
      // and the evaluator run on) is the maximum over partitions, so the view keeps the maximum.
      if (f.pipeline.watermarkMs !== null) {
        maxWatermarkMs = Math.max(maxWatermarkMs, f.pipeline.watermarkMs);
        f.pipeline.watermarkMs = maxWatermarkMs;
      }
      live.figures = f;
    } catch (err) {
      logger.debug({ err }, 'metrics scrape failed');
    } finally {
      scraping = false;
    }
  };

  // Under evaluator.clock event, alert states carry event times (the watermark they were decided at).
  const changedAtMs = (e: AlertEvent): number => {
    if (e.state === 'firing' && e.labels.firing_since) return Date.parse(e.labels.firing_since);
    if ((e.state === 'resolved' || e.state === 'inactive') && e.ended_at !== null) return e.ended_at;
    return e.started_at;
  };

  try {
    // ---- topics and the service ----------------------------------------------------------------
    const t = names.topics;
    await ensureTopics(kafka, [
      // Two partitions per input are all the service's concurrency uses on a small machine, and every
      // input partition is a shard the evaluator reads for each window (fewer, cheaper rounds).
      { topic: t.news, numPartitions: 2 },
      { topic: t.chat, numPartitions: 2 },
      { topic: t.enriched, numPartitions: 2 },
      { topic: t.dlq, numPartitions: 1 },
      { topic: t.alerts, numPartitions: 1 },
    ]);
    check();
    const mainScript = process.argv[1];
    if (!mainScript)
      throw new DemoError('cannot tell how this finsentry was started (process.argv[1] is empty)');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // The demo's own pseudonymisation key when the user has none: chat author ids are still hashed.
      FINSENTRY_AUTHOR_KEY: process.env.FINSENTRY_AUTHOR_KEY || randomBytes(24).toString('hex'),
    };
    const runLog = createWriteStream(logPath, { flags: 'a' });
    say(
      `run ${runId}: starting finsentry run (models ${path.relative(process.cwd(), sentimentModel) || sentimentModel}, ${path.relative(process.cwd(), nerModel) || nerModel}); service log ${logPath}`,
    );
    service = new ServiceProcess(
      process.execPath,
      [...process.execArgv, mainScript, 'run', '--config', configPath],
      env,
      runLog,
    );
    state.servicePid = service.child.pid;
    writeState();
    await waitForReady(service, metricsHost, abort.signal);
    check();
    scraped = prometheusUp && service.port !== null && (await prometheusScrapes(prometheusUrl, service.port));
    say(
      `finsentry run is ready: ${metricsUrl()}${scraped ? `, scraped by Prometheus at ${prometheusUrl}` : prometheusUp ? ` (Prometheus at ${prometheusUrl} does not scrape this port)` : ''}`,
    );

    watcher = new TopicWatcher(
      kafka,
      `${names.groupId}-watch`,
      { alerts: t.alerts, dlq: t.dlq },
      (event) => {
        const a: ViewAlert = { event, eventTimeMs: changedAtMs(event) };
        recentAlerts.push(a);
        if (recentAlerts.length > 200) recentAlerts.shift();
        if (!tty) out.stdout.write(`${progressAlertLine(viewState(), a)}\n`);
      },
      logger,
    );
    await watcher.start();

    // ---- replay ------------------------------------------------------------------------------
    eventStartMs = Date.now() - o.durationMs + Math.round(o.durationMs / o.speedup);
    eventEndMs = eventStartMs + o.durationMs;
    scenario = generateScenario({
      name: 'mixed',
      seed: o.seed,
      startMs: eventStartMs,
      durationMs: o.durationMs,
      ratePerSecond: eventRate,
      universeSize: o.universe,
      schemaIds: schemaIdsFromConfig(config.codec.schemaIds),
      limits: { maxMessageBytes: config.limits.maxMessageBytes, maxTextChars: config.limits.maxTextChars },
      poison: { share: o.poison },
      rules: demo.rules,
    });
    const run = scenario;
    const source = (function* (): Generator<ReplayMessage> {
      for (const m of run.messages)
        yield { topic: m.topic, key: m.key, value: m.value, headers: m.headers, eventTimeMs: m.eventTimeMs };
    })();
    producer = new OutputProducer(kafka, { compression: config.kafka.compression });
    await producer.connect();
    replayStartedAtMs = Date.now();
    setPhase('replaying');
    if (tty) out.stdout.write('\x1b[?25l\x1b[2J');
    const svc = service;
    timer = setInterval(() => {
      if (!svc.running && failure === undefined) {
        // The service died under the replay: stop producing into a pipeline that is not there.
        failure = new DemoError(
          `finsentry run exited unexpectedly (${describeExit(svc)}); last log lines:\n    ${svc.lastLines().join('\n    ')}`,
        );
        abort.abort();
        return;
      }
      void scrape().then(() => draw());
    }, 1_000);
    replay = replayMessages(source, producer, {
      topics: { news: t.news, chat: t.chat, labels: null },
      ratePerSecond: o.rate,
      maxBatch: 500,
      signal: abort.signal,
      progressEveryMs: 1_000,
      onProgress: (p) => (live.progress = p),
    });
    live.progress = await replay;
    check();

    // ---- drain: wait until the service has committed every input record ----------------------
    setPhase('draining');
    let lastCommitted = -1;
    let lastMoveMs = Date.now();
    for (;;) {
      check();
      if (!service.running)
        throw new DemoError(
          `finsentry run exited unexpectedly (${describeExit(service)}); last log lines:\n    ${service.lastLines().join('\n    ')}`,
        );
      const snap = await readOffsetSnapshot({
        admin,
        groupId: names.groupId,
        inputTopics: [t.news, t.chat],
        dlqTopic: t.dlq,
      });
      if (snap.lag === 0) break;
      if (snap.committed !== lastCommitted) {
        lastCommitted = snap.committed;
        lastMoveMs = Date.now();
      } else if (Date.now() - lastMoveMs > 180_000) {
        throw new DemoError(
          `the service committed nothing for 3 minutes with ${snap.lag} records left; see ${logPath}`,
        );
      }
      await sleep(1_000, abort.signal);
    }

    // ---- finishing: the evaluator's last rounds, and every alert and dead letter read back --------
    setPhase('finishing');
    const drainedAtMs = Date.now();
    const deadline = drainedAtMs + settleMs + 60_000;
    for (;;) {
      check();
      await scrape();
      // Done when the evaluator has judged the last complete bucket (its event clock steps through
      // every bucket end, a bounded number per round, so a drained backlog takes a few rounds), or,
      // from a service without that gauge, when it has run a few rounds since the drain.
      const p = live.figures?.pipeline;
      const lastComplete = Math.floor(maxWatermarkMs / config.stats.bucket) * config.stats.bucket;
      const evaluated =
        p?.evaluatedUntilMs != null
          ? p.evaluatedUntilMs >= lastComplete && (p.lastEvaluationMs ?? 0) >= drainedAtMs
          : (p?.lastEvaluationMs ?? 0) >= drainedAtMs + settleMs;
      if (evaluated && Date.now() >= drainedAtMs + settleMs && (await watcher.caughtUp(admin))) break;
      if (Date.now() > deadline) {
        say(
          'the evaluator or the alerts/DLQ topics did not settle within a minute; summarising what arrived',
        );
        break;
      }
      await sleep(500, abort.signal);
    }
    await scrape();
    phase = 'done';
    clearInterval(timer);
    timer = undefined;
    draw(true);
  } catch (err) {
    // A failure found by the poll loop aborts the run too; it stays a failure, not an interruption.
    if (failure === undefined) {
      if (err instanceof Interrupted || abort.signal.aborted) interrupted = true;
      else failure = err;
    }
  } finally {
    if (timer) clearInterval(timer);
    if (tty) out.stdout.write('\x1b[?25h');
  }

  // ---- stop, summarise ---------------------------------------------------------------------------
  const keepService = o.keepRunning && !interrupted && failure === undefined && service?.running === true;
  if (!keepService) {
    if (interrupted && replay) await replay.catch(() => undefined);
    if (service?.running) {
      say('stopping finsentry run (SIGTERM: in-flight batches finish and commit)');
      await service.stop(config.shutdown.deadline + 10_000);
    }
  }
  await producer?.disconnect().catch(() => undefined);

  if (scenario && (failure === undefined || interrupted)) {
    summary = buildSummary({
      runId,
      truth: scenario.truth,
      alertEvents: watcher?.alerts.events ?? [],
      capacityRules: (config.alerts?.rules ?? [])
        .filter((r) => r.kind === 'pipeline' && CAPACITY_METRICS.has(r.metric))
        .map((r) => r.name),
      deadLetters: watcher?.deadLetters ?? [],
      produced: live.progress?.sent ?? 0,
      enriched: live.figures?.pipeline.processed ?? null,
      wall: { startedAtMs, replayStartedAtMs, finishedAtMs: Date.now() },
      interrupted,
      locations: {
        metricsUrl: metricsUrl(),
        serviceRunning: keepService,
        prometheusUrl: prometheusUp ? prometheusUrl : null,
        prometheusScrapes: scraped,
        alertmanagerUrl: alertmanagerUp ? alertmanagerUrl : null,
        brokers: config.kafka.brokers,
        topics: names.topics,
        groupId: names.groupId,
        keyPrefix: names.keyPrefix,
        runDir,
        configPath,
        logPath,
      },
    });
    writeFileSync(path.join(runDir, 'truth.json'), `${JSON.stringify(scenario.truth, null, 1)}\n`);
    writeFileSync(path.join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    if (o.summaryJson) writeFileSync(o.summaryJson, `${JSON.stringify(summary, null, 2)}\n`);
    const text = renderSummary(summary);
    writeFileSync(path.join(runDir, 'summary.txt'), `${text.join('\n')}\n`);
    out.stdout.write(`\n${text.join('\n')}\n`);
  }
  await watcher?.stop();

  if (failure !== undefined) {
    if (service?.running) await service.stop(config.shutdown.deadline + 10_000);
    await admin.disconnect().catch(() => undefined);
    process.off('exit', onExit);
    throw failure;
  }

  if (keepService && service) {
    phase = 'done';
    say(`finsentry keeps running on ${metricsUrl()} (topics and Redis state as above); Ctrl-C stops it`);
    await Promise.race([
      new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true })),
      service.exited,
    ]);
    if (service.running) {
      say('stopping finsentry run');
      await service.stop(config.shutdown.deadline + 10_000);
    }
  }
  await admin.deleteGroups([`${names.groupId}-watch`]).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  process.off('exit', onExit);
  logger.flush();
  if (interrupted) return 130;
  if (o.check && summary && !summary.pass) return 3;
  return 0;
}

function describeExit(service: ServiceProcess): string {
  const e = service.exit;
  if (!e) return 'running';
  return e.signal ? `signal ${e.signal}` : `exit code ${e.code}`;
}

async function waitForReady(service: ServiceProcess, host: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (signal.aborted) throw new Interrupted('interrupted');
    if (!service.running) {
      throw new DemoError(
        `finsentry run exited during start-up (${describeExit(service)}); last log lines:\n    ${service.lastLines().join('\n    ')}`,
      );
    }
    if (service.port !== null && (await httpOk(`http://${host}:${service.port}/readyz`, 1_000))) return;
    if (Date.now() > deadline)
      throw new DemoError('finsentry run was not ready within 5 minutes (loading models?)');
    await sleep(500, signal);
  }
}

/**
 * Deletes what earlier demo runs left behind (topics, consumer groups, Redis keys, the run directory)
 * once they have ended; a run whose demo process is still alive is left alone. A service whose demo
 * died without stopping it (SIGKILL) is stopped, after checking its command line names that run's
 * config, so that a recycled pid is never signalled.
 */
async function cleanPreviousRuns(
  demoDir: string,
  currentRunId: string,
  admin: Admin,
  config: FinsentryConfig,
  logger: Logger,
  say: (line: string) => void,
): Promise<void> {
  if (!existsSync(demoDir)) return;
  const ended: RunState[] = [];
  for (const entry of readdirSync(demoDir)) {
    if (entry === currentRunId) continue;
    const dir = path.join(demoDir, entry);
    let s: RunState;
    try {
      s = JSON.parse(readFileSync(path.join(dir, 'demo.json'), 'utf8')) as RunState;
    } catch {
      continue; // not a run directory the demo wrote
    }
    if (pidAlive(s.demoPid)) continue;
    if (s.servicePid && pidAlive(s.servicePid)) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${s.servicePid}/cmdline`, 'utf8');
      } catch {
        // no /proc (not Linux): leave it running rather than guess
      }
      if (cmdline.includes(s.configPath)) process.kill(s.servicePid, 'SIGTERM');
      else if (cmdline === '') continue;
    }
    ended.push(s);
  }
  if (ended.length === 0) return;
  const redis = createRedisClient(config.redis);
  try {
    const existing = new Set(await admin.listTopics());
    for (const s of ended) {
      const n = demoNames(s.runId);
      const topics = Object.values(n.topics).filter((topic) => existing.has(topic));
      if (topics.length > 0) await admin.deleteTopics({ topics });
      await admin.deleteGroups([n.groupId, `${n.groupId}-watch`]).catch(() => undefined);
      await new RedisWindowStore(redis, windowStoreOptions(config, n.keyPrefix)).deleteAll();
      rmSync(path.join(demoDir, s.runId), { recursive: true, force: true });
      logger.info({ runId: s.runId, topics }, 'cleaned up an earlier demo run');
    }
    say(
      `cleaned up ${ended.length} earlier demo run(s): their topics, consumer groups and Redis keys (--keep-previous keeps them)`,
    );
  } catch (err) {
    logger.warn({ err }, 'cleaning up earlier demo runs failed');
    say(`could not clean up earlier demo runs: ${(err as Error).message}`);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
