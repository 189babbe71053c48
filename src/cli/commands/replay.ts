import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { effectiveAlertRules } from '../../alerts/default-rules.js';
import { loadConfig } from '../../config/load.js';
import type { FinsentryConfig } from '../../config/schema.js';
import { ensureTopics } from '../../io/kafka/admin.js';
import { buildKafka, connectKafka } from '../../io/kafka/client.js';
import { OutputProducer } from '../../io/kafka/producer.js';
import { schemaIdsFromConfig } from '../../tools/scenarios/encoding.js';
import { SCENARIO_NAMES, type ScenarioName } from '../../tools/scenarios/ground-truth.js';
import { parseRealism, type RealismOptions } from '../../tools/scenarios/realism.js';
import { readRecordedFile, toRecordedLine, type ReplayMessage } from '../../tools/scenarios/recorded.js';
import { planReplay, replaySource, type PlannedMessage } from '../../tools/scenarios/replay-plan.js';
import { replayMessages, TruthFileWriter, type ReplayProgress } from '../../tools/scenarios/replay.js';
import { createLogger } from '../../telemetry/logger.js';
import { configOption, durationArg, intArg, numberArg, requireReadableFile } from '../options.js';

/**
 * `finsentry replay`: synthetic scenario traffic (or a recorded JSONL file) into the input topics.
 *
 * Clocks: `--rate` is the wall-clock production rate (messages per real second). `--speedup X` makes
 * event time advance X times faster than wall time, so the scenario is generated with
 * rate / speedup documents per event-time second, and `--duration` (event time) takes
 * duration / speedup of wall time. By default the run's event times start at
 * now − duration + duration / speedup: every message is sent at or after its own event time and the
 * last one is about "now", so no event time is in the future of the consumer's clock.
 *
 * Windows run on event time at any speedup; alert `for` durations do too when the consuming
 * finsentry runs its evaluator with `evaluator.clock: event` (otherwise they are wall time, and a
 * `for: 5m` spans 5 × speedup minutes of the replayed traffic). The ground truth's expected alerts
 * are derived from the alert rules of --config (the defaults without one), in event time.
 */
interface ReplayCliOptions {
  scenario?: string;
  file?: string;
  rate: number;
  duration: number;
  speedup: number;
  seed: number;
  start?: string;
  universe?: number;
  brokers?: string;
  config?: string;
  truthOut?: string;
  dryRun?: boolean;
  out?: string;
  maxSpeed?: boolean;
  batch: number;
  quiet?: boolean;
  labels?: number;
  labelDelay: number;
  realism?: RealismOptions;
  biasRatio?: number;
}

const positiveNumber = numberArg({ min: 0, exclusiveMin: true });

/** `--realism` of replay and demo (src/tools/scenarios/realism.ts parseRealism). */
/** `--bias-ratio` of replay and demo: a planted disparate impact ratio in (0, 1]. */
export const biasRatioArg = numberArg({ min: 0, max: 1, exclusiveMin: true });

export function realismArg(value: string): RealismOptions {
  try {
    return parseRealism(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function formatProgress(p: ReplayProgress, total: number | null): string {
  const pct = total ? ` (${Math.min(100, Math.round((p.sent / total) * 100))}%)` : '';
  const event = p.eventTimeMs !== null ? ` event time ${new Date(p.eventTimeMs).toISOString()}` : '';
  const speed = p.speedup !== null ? ` x${p.speedup.toFixed(1)}` : '';
  return `replay: ${p.sent}${total ? `/${total}` : ''} messages${pct}, ${p.rate.toFixed(0)} msg/s,${event}${speed}, news ${p.byTopic.news} chat ${p.byTopic.chat}${p.done ? ' — done' : ''}\n`;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      'Produce synthetic scenario traffic (with ground truth) or a recorded JSONL file to the input topics',
    )
    .addOption(new Option('--scenario <name>', 'synthetic scenario').choices([...SCENARIO_NAMES]))
    .option(
      '--file <file.jsonl>',
      'replay recorded traffic: one {topic, key, value (base64) | record (JSON), headers, eventTimeMs} per line',
    )
    .option('--rate <n/s>', 'wall-clock messages per second', positiveNumber, 200)
    .addOption(
      new Option('--duration <d>', 'event-time span of the scenario (e.g. 30m, 2h)')
        .argParser(durationArg)
        .default(7_200_000, '2h'),
    )
    .option(
      '--speedup <x>',
      'event time advances x times faster than wall time (event rate = rate / speedup)',
      positiveNumber,
      60,
    )
    .option('--seed <s>', 'random seed (same seed, same traffic)', intArg(), 1)
    .option('--start <iso>', 'event time of the scenario start (default: now - duration + duration/speedup)')
    .option(
      '--universe <n>',
      'number of issuers in play (4-60; fewer = more documents per issuer)',
      intArg({ min: 4, max: 60 }),
    )
    .option('--brokers <host:port,...>', 'Kafka brokers (overrides the config)')
    .addOption(configOption('finsentry config file (topics, schema ids, limits, Kafka security)'))
    .option(
      '--truth-out <file>',
      'write the ground truth (per-document intended sentiment + injected events) as JSON',
    )
    .option('--dry-run', 'do not produce; write the traffic to --out as JSONL instead')
    .option('--out <file.jsonl>', 'with --dry-run: where to write the traffic')
    .option(
      '--max-speed',
      'ignore --rate pacing and produce as fast as the broker takes it (event times unchanged)',
    )
    .option('--batch <n>', 'largest batch per send', intArg({ min: 1 }), 500)
    .option(
      '--labels <share>',
      'also publish delayed human labels (intended sentiment) for this share of documents, e.g. 0.1',
      positiveNumber,
    )
    .addOption(
      new Option('--label-delay <d>', 'event-time delay of labels after their document (±50%)')
        .argParser(durationArg)
        .default(600_000, '10m'),
    )
    .option(
      '--realism <profile>',
      'realistic traffic: off, modest (scenario tests, demo), issue (the backtest profile) or JSON knobs',
      realismArg,
    )
    .option(
      '--bias-ratio <r>',
      'with --scenario region-bias (or mixed): the planted disparate impact ratio, e.g. 0.5 (default 0.6)',
      biasRatioArg,
    )
    .option('--quiet', 'no progress lines on stderr')
    .action(replayAction);
}

type Say = (line: string) => void;

/** What to replay: the messages, their planned count, and how to finish the truth file afterwards. */
interface ReplaySourcePlan {
  source: Iterable<ReplayMessage> | AsyncIterable<ReplayMessage>;
  total: number | null;
  finishTruth: (() => Promise<void>) | null;
}

async function replayAction(opts: ReplayCliOptions): Promise<void> {
  if (Boolean(opts.scenario) === Boolean(opts.file))
    throw new InvalidArgumentError('give exactly one of --scenario or --file');
  if (opts.dryRun && !opts.out) throw new InvalidArgumentError('--dry-run needs --out FILE.jsonl');
  if (opts.labels !== undefined && opts.labels > 1)
    throw new InvalidArgumentError('--labels is a share in (0, 1]');
  if (opts.file && opts.truthOut)
    throw new InvalidArgumentError('--truth-out applies to --scenario runs (recorded files carry no truth)');
  const config: FinsentryConfig = loadConfig(opts.config);
  if (opts.file) requireReadableFile(opts.file, '--file');
  if (opts.brokers) config.kafka.brokers = opts.brokers.split(',').map((b) => b.trim());
  const say: Say = (line) => {
    if (!opts.quiet) process.stderr.write(line);
  };
  const plan: ReplaySourcePlan = opts.scenario
    ? scenarioSource(opts, config, say)
    : {
        source: readRecordedFile(opts.file!, schemaIdsFromConfig(config.codec.schemaIds)),
        total: null,
        finishTruth: null,
      };

  const abort = new AbortController();
  const onSignal = (): void => {
    say('replay: stopping (signal) — finishing the current batch\n');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (opts.dryRun) await writeDryRun(plan.source, opts.out!, abort.signal, say);
    else await produce(plan, opts, config, abort.signal, say);
    await plan.finishTruth?.();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A synthetic scenario from the shared replay plan (src/tools/scenarios/replay-plan.ts). */
function scenarioSource(opts: ReplayCliOptions, config: FinsentryConfig, say: Say): ReplaySourcePlan {
  const startMs = opts.start ? Date.parse(opts.start) : undefined;
  if (startMs !== undefined && !Number.isFinite(startMs))
    throw new InvalidArgumentError(`--start: cannot parse ${opts.start}`);
  const plan = planReplay({
    scenario: opts.scenario as ScenarioName,
    seed: opts.seed,
    durationMs: opts.duration,
    rate: opts.rate,
    speedup: opts.speedup,
    ...(startMs !== undefined ? { startMs } : {}),
    universe: opts.universe,
    config,
    ...(opts.labels ? { labels: { share: opts.labels, delayMs: opts.labelDelay } } : {}),
    ...(opts.realism ? { realism: opts.realism } : {}),
    ...(opts.biasRatio !== undefined ? { bias: { disparateImpact: opts.biasRatio } } : {}),
    // The expected alerts follow the rules of the config given (the defaults without one).
    rules: effectiveAlertRules(config),
  });
  const { run, plannedTotal: total } = plan;
  say(
    `replay: scenario ${opts.scenario} seed ${opts.seed}: ${new Date(plan.startMs).toISOString()} + ${opts.duration / 60_000} min event time, ` +
      `${plan.eventRate.toFixed(2)} docs per event-second, ~${total} messages at ${opts.maxSpeed ? 'max speed' : `${opts.rate}/s`}\n`,
  );
  for (const s of run.truth.skippedPoisonKinds) say(`replay: poison kind ${s.kind} skipped: ${s.why}\n`);
  const truthWriter = opts.truthOut ? new TruthFileWriter(opts.truthOut) : null;
  const finishTruth = async (): Promise<void> => {
    if (!truthWriter) return;
    await truthWriter.close(run.truth);
    say(
      `replay: ground truth written to ${opts.truthOut}${run.truth.complete ? '' : ' (incomplete: the run was interrupted)'}\n`,
    );
  };
  return { source: replaySource(run, truthWriter), total, finishTruth };
}

/** --dry-run: the traffic as recorded JSONL instead of producing it. */
async function writeDryRun(
  source: ReplaySourcePlan['source'],
  file: string,
  signal: AbortSignal,
  say: Say,
): Promise<void> {
  const out = createWriteStream(file, 'utf8');
  let n = 0;
  for await (const m of source) {
    if (signal.aborted) break;
    const line = (m as Partial<PlannedMessage>).line;
    const text = line
      ? toRecordedLine(line)
      : JSON.stringify({
          topic: m.topic,
          key: m.key,
          value: m.value.toString('base64'),
          headers: m.headers,
          eventTimeMs: m.eventTimeMs,
        });
    if (!out.write(`${text}\n`)) await once(out, 'drain');
    n++;
  }
  out.end();
  await once(out, 'finish');
  say(`replay: wrote ${n} messages to ${file}\n`);
}

async function produce(
  plan: ReplaySourcePlan,
  opts: ReplayCliOptions,
  config: FinsentryConfig,
  signal: AbortSignal,
  say: Say,
): Promise<void> {
  const logger = createLogger(config.log.level);
  const kafka = buildKafka(config.kafka, logger, process.env, { retries: 2, quietErrors: true });
  await connectKafka(kafka, config.kafka);
  const topics = [
    config.kafka.topics.news,
    config.kafka.topics.chat,
    ...(opts.labels && config.kafka.topics.labels ? [config.kafka.topics.labels] : []),
  ];
  await ensureTopics(
    kafka,
    topics.map((topic) => ({ topic })),
  );
  const producer = new OutputProducer(kafka, { compression: config.kafka.compression });
  await producer.connect();
  try {
    await replayMessages(plan.source, producer, {
      topics: {
        news: config.kafka.topics.news,
        chat: config.kafka.topics.chat,
        labels: config.kafka.topics.labels,
      },
      ratePerSecond: opts.maxSpeed ? null : opts.rate,
      maxBatch: opts.batch,
      signal,
      onProgress: (p) => say(formatProgress(p, plan.total)),
    });
  } finally {
    await producer.disconnect();
  }
}
