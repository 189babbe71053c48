import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Admin, Kafka } from 'kafkajs';
import { pino, type Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../config/load.js';
import type { FinsentryConfig } from '../../config/schema.js';
import { findOnnxFile } from '../../inference/model.js';
import { buildKafka } from '../../io/kafka/client.js';
import { resolveChinesePhase, type ChinesePhase } from './chinese.js';
import { buildDemoConfig, demoNames, type DemoConfig } from './config.js';
import { DemoError } from './errors.js';
import {
  DEFAULT_ALERTMANAGER_URL,
  DEFAULT_PROMETHEUS_URL,
  type DemoOptions,
  type Output,
} from './options.js';
import { cleanPreviousRuns, type RunState } from './previous-runs.js';
import { hostPortOf, httpOk, portFree, tcpAnswers } from './probes.js';

/** What the pre-flight phase settled: the run's config, names, files and clients. Fixed for the run. */
export interface DemoSetup {
  o: DemoOptions;
  out: Output;
  /** Live view on a terminal (else one progress line every 5 s). */
  tty: boolean;
  say: (line: string) => void;
  runId: string;
  runDir: string;
  configPath: string;
  logPath: string;
  demo: DemoConfig;
  config: FinsentryConfig;
  names: ReturnType<typeof demoNames>;
  sentimentModel: string;
  nerModel: string;
  /** The Chinese phase: its share of the documents and the model that reads it (src/tools/demo/chinese.ts). */
  zh: ChinesePhase;
  /** The port the service is asked to listen on (0: any free port). */
  metricsPort: number;
  metricsHost: string;
  prometheusUrl: string;
  prometheusUp: boolean;
  alertmanagerUrl: string;
  alertmanagerUp: boolean;
  /** The run directory's demo.json (rewritten when the service pid is known). */
  state: RunState;
  logger: Logger;
  kafka: Kafka;
  admin: Admin;
}

function repoRoot(): string {
  // src/tools/demo/*.ts and dist/tools/demo/*.js are both three levels below the repository root.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

function newRunId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `${stamp}-${randomBytes(2).toString('hex')}`;
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

/** Model directories: the flags, else the base config's, else the committed defaults; checked before anything starts. */
function resolveModels(o: DemoOptions, base: Record<string, unknown>, root: string) {
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
  return { sentimentModel, nerModel };
}

/**
 * The demo config, on the metrics port asked for; when that port is busy and was not chosen
 * explicitly, on any free port (the local Prometheus then does not scrape this run).
 */
async function configOnFreePort(
  o: DemoOptions,
  build: (metricsPort: number) => DemoConfig,
  say: (line: string) => void,
): Promise<{ demo: DemoConfig; metricsPort: number; metricsHost: string }> {
  let metricsPort = o.metricsPort;
  const probe = build(metricsPort);
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
  return { demo: metricsPort === o.metricsPort ? probe : build(metricsPort), metricsPort, metricsHost };
}

/** Kafka and Redis must answer; Prometheus and Alertmanager are optional (the summary says where they are). */
async function checkStack(config: FinsentryConfig, say: (line: string) => void) {
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
  return { prometheusUrl, prometheusUp, alertmanagerUrl, alertmanagerUp };
}

/** Writes demo.json, the run directory's state (what cleanPreviousRuns reads). */
export function writeRunState(runDir: string, state: RunState): void {
  writeFileSync(path.join(runDir, 'demo.json'), `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Phase 1, pre-flight: configuration, model directories, a metrics port, the stack answering, the run
 * directory, the demo's own log and Kafka admin; then housekeeping of ended runs. Throws DemoError on
 * anything the user has to fix, before anything is started.
 */
export async function preflight(o: DemoOptions, out: Output): Promise<DemoSetup> {
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

  const base = readBaseConfig(o.config);
  const zh = resolveChinesePhase(o, root);
  // English stays with the default pair; the multilingual model scores Chinese as a model set of its
  // own, as the service's default config routes it (docs/inference.md "Model sets").
  const { sentimentModel, nerModel } = resolveModels(o, base, root);
  if (zh.models) checkModelDir(zh.models.sentiment, 'multilingual', '--zh-model');
  const build = (metricsPort: number): DemoConfig =>
    buildDemoConfig({
      runId,
      base,
      sentimentModel,
      nerModel,
      ...(zh.models ? { zhModelDir: zh.models.sentiment } : {}),
      metricsPort,
      executionProvider: o.device,
      brokers: o.brokers,
      redisUrl: o.redisUrl,
      env: process.env,
    });
  const { demo, metricsPort, metricsHost } = await configOnFreePort(o, build, say);
  const config: FinsentryConfig = demo.config;
  const stack = await checkStack(config, say);

  mkdirSync(runDir, { recursive: true });
  const configPath = path.join(runDir, 'finsentry.json');
  const logPath = path.join(runDir, 'run.log');
  writeFileSync(configPath, `${JSON.stringify(demo.raw, null, 2)}\n`);
  const state: RunState = { runId, demoPid: process.pid, configPath, startedAt: new Date().toISOString() };
  writeRunState(runDir, state);

  const logger: Logger = pino(
    { level: 'info', base: { pid: process.pid, component: 'demo' } },
    pino.destination({ dest: path.join(runDir, 'demo.log'), sync: false }),
  );
  const kafka = buildKafka(config.kafka, logger);
  const admin = kafka.admin();
  await admin.connect();

  if (!o.keepPrevious) await cleanPreviousRuns(demoDir, runId, admin, config, logger, say);
  return {
    o,
    out,
    tty,
    say,
    runId,
    runDir,
    configPath,
    logPath,
    demo,
    config,
    names: demoNames(runId),
    sentimentModel,
    nerModel,
    zh,
    metricsPort,
    metricsHost,
    ...stack,
    state,
    logger,
    kafka,
    admin,
  };
}
