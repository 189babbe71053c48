import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../../config/duration.js';
import { SCENARIO_REALISM, type RealismOptions } from '../../tools/scenarios/realism.js';
import { intArg } from '../options.js';
import { biasRatioArg, realismArg } from './replay.js';

/**
 * `finsentry demo` (`npm run demo`): the whole job on the local stack — `finsentry run` with the
 * committed models, the `mixed` scenario (issuer surge + region bias + poison) replayed into it, a
 * live view, and a summary of injected vs detected. The logic lives in src/tools/demo/; this module only
 * maps options, so `--help` needs neither the stack nor the models.
 */

interface DemoCliOptions {
  duration: number;
  rate: number;
  speedup: number;
  seed: number;
  universe?: number;
  poison: number;
  metricsPort?: number;
  model?: string;
  nerModel?: string;
  zhShare?: number;
  realism?: RealismOptions;
  biasRatio: number;
  zhModel?: string;
  device?: 'cpu' | 'cuda';
  config?: string;
  brokers?: string;
  redisUrl?: string;
  view: boolean;
  keepRunning?: boolean;
  keepPrevious?: boolean;
  summaryJson?: string;
  check?: boolean;
}

function positive(name: string) {
  return (value: string): number => {
    const n = Number(value.replace(/\/s$/, ''));
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function share(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n >= 1) throw new InvalidArgumentError('--poison is a share in [0, 1)');
  return n;
}

function zhShare(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 0.8)
    throw new InvalidArgumentError('--zh-share is a share in [0, 0.8]');
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('--metrics-port is 0..65535');
  return n;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'Run finsentry on the local stack with a replayed scenario (issuer surge, region bias, poison), a live view and a summary of injected vs detected',
    )
    .addOption(
      new Option('--duration <d>', 'event-time span of the scenario; wall time is about duration / speedup')
        .argParser(durationArg)
        .default(2_400_000, '40m'),
    )
    .option('--rate <n/s>', 'messages produced per wall-clock second', positive('--rate'), 100)
    .option('--speedup <x>', 'event time runs x times faster than wall time', positive('--speedup'), 30)
    .option('--seed <n>', 'scenario seed (same seed, same traffic)', intArg(), 1)
    .option('--universe <n>', 'issuers in play (4-60)', intArg({ min: 4, max: 60 }), 16)
    .option('--poison <share>', 'share of malformed messages', share, 0.01)
    .addOption(
      new Option(
        '--metrics-port <port>',
        'service metrics port (the local Prometheus scrapes 9464; 0 = any free port); a busy default falls back to a free port',
      )
        .argParser(port)
        .default(undefined, '9464'),
    )
    .option('--model <dir>', 'sentiment model directory (default models/finsentry-sentiment)')
    .option('--ner-model <dir>', 'NER model directory (default models/finsentry-ner)')
    .option(
      '--zh-share <share>',
      'share of Chinese news and 股吧/雪球 chat, with a surge on 贵州茅台 scored by the multilingual model (default 0: off; 0.2 is the documented setting)',
      zhShare,
    )
    .option(
      '--realism <profile>',
      'realistic traffic (docs/scenarios.md "Realism"): modest (default: syndicated stories, Zipf issuers, late and future records), off, issue or JSON knobs',
      realismArg,
    )
    .option(
      '--bias-ratio <r>',
      "the planted region's disparate impact ratio (0.6 sits at the rule's power limit at the demo's volume: docs/scenarios.md)",
      biasRatioArg,
      0.5,
    )
    .option(
      '--zh-model <dir>',
      'multilingual (zh+en) model directory (default models/finsentry-multilingual)',
    )
    .addOption(
      new Option('--device <device>', "execution provider (default: the config's, cpu)").choices([
        'cpu',
        'cuda',
      ]),
    )
    .option(
      '-c, --config <file>',
      'base finsentry config (brokers, Redis, security, batching); the demo sets its own topics, group, key prefix and clocks',
    )
    .option('--brokers <host:port,...>', 'Kafka brokers (default 127.0.0.1:9092)')
    .option('--redis-url <url>', 'Redis URL (default redis://127.0.0.1:6379)')
    .option(
      '--no-view',
      'plain progress lines instead of the live view (always so when stdout is not a terminal)',
    )
    .option(
      '--keep-running',
      'leave finsentry running after the summary (for Prometheus, Grafana, stats, report) until Ctrl-C',
    )
    .option(
      '--keep-previous',
      "keep earlier demo runs' topics and Redis keys (by default they are deleted at start)",
    )
    .option('--summary-json <file>', 'also write the summary as JSON to this file')
    .option(
      '--check',
      'exit with code 3 when the summary finds a missed detection, a false alert or a lost poison message',
    )
    .addHelpText(
      'after',
      `
Clocks: windows and alert rules run on event time (evaluator.clock: event), so at --speedup 30 a
5-minute window fills, and a "for: 5m" holds, in 10 seconds of replay; the event-time rate is
rate / speedup documents per second. The defaults (40m at 100 msg/s, x30: 200 documents per
event-minute, ~8,000 messages) give the surging issuer enough documents per 5-minute window for the
surge rule's min_samples; the pipeline's speed sets the wall time (a few minutes on 2 CPU cores;
with a GPU, --rate 300 --speedup 90 replays the same traffic three times faster). Each run uses its
own topics (finsentry-demo-<run>.*), consumer group and Redis key prefix (fsdemo:<run>), and keeps
its config, service log, ground truth and summary in .stack/demo/<run>/.

Exit codes: 0 after the summary, 130 after Ctrl-C, 1 on an error (missing models, stack not running),
3 with --check when the result is FAIL.`,
    )
    .action(demoAction);
}

async function demoAction(opts: DemoCliOptions): Promise<void> {
  if (
    opts.universe !== undefined &&
    (!Number.isInteger(opts.universe) || opts.universe < 4 || opts.universe > 60)
  )
    throw new InvalidArgumentError('--universe must be an integer in 4..60');
  // Loaded here so that `finsentry --help` and `demo --help` never load Kafka, Redis or pino.
  const { runDemo, DemoError, DEFAULT_METRICS_PORT } = await import('../../tools/demo/demo.js');
  try {
    const code = await runDemo({
      durationMs: opts.duration,
      rate: opts.rate,
      speedup: opts.speedup,
      seed: opts.seed,
      universe: opts.universe,
      poison: opts.poison,
      metricsPort: opts.metricsPort ?? DEFAULT_METRICS_PORT,
      metricsPortExplicit: opts.metricsPort !== undefined,
      model: opts.model,
      nerModel: opts.nerModel,
      zhShare: opts.zhShare,
      realism: opts.realism ?? SCENARIO_REALISM,
      biasRatio: opts.biasRatio,
      zhModel: opts.zhModel,
      device: opts.device,
      config: opts.config,
      brokers: opts.brokers
        ?.split(',')
        .map((b) => b.trim())
        .filter(Boolean),
      redisUrl: opts.redisUrl,
      view: opts.view,
      keepRunning: opts.keepRunning === true,
      keepPrevious: opts.keepPrevious === true,
      summaryJson: opts.summaryJson,
      check: opts.check === true,
    });
    process.exit(code);
  } catch (err) {
    if (err instanceof DemoError) {
      process.stderr.write(`finsentry demo: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
