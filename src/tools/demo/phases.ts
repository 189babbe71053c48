import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { readOffsetSnapshot } from '../../alerts/pipeline-signals.js';
import { ensureTopics } from '../../io/kafka/admin.js';
import { OutputProducer } from '../../io/kafka/producer.js';
import { planReplay, replaySource } from '../scenarios/replay-plan.js';
import { replayMessages } from '../scenarios/replay.js';
import { DemoError } from './errors.js';
import { writeRunState } from './preflight.js';
import { prometheusScrapes, sleep } from './probes.js';
import type { DemoRun } from './run-state.js';
import { exitedUnexpectedly, ServiceProcess, waitForReady } from './service-process.js';
import { TopicWatcher } from './topic-watcher.js';

/**
 * The phases of a demo run after pre-flight (src/tools/demo/preflight.ts), in order, each on the one
 * DemoRun state object: start → replay → drain → settle. Summarising (and stopping) is
 * src/tools/demo/summarise.ts.
 */

/** Phase 2, start: the demo's topics, `finsentry run` as a child process until ready, the alerts/DLQ watcher. */
export async function startService(run: DemoRun): Promise<void> {
  const { kafka, names, logPath, runId, sentimentModel, nerModel, configPath, metricsHost } = run.setup;
  const t = names.topics;
  await ensureTopics(kafka, [
    // Two partitions per input are all the service's concurrency uses on a small machine, and every
    // input partition is a shard the evaluator reads for each window (fewer, cheaper rounds).
    { topic: t.news, numPartitions: 2 },
    { topic: t.chat, numPartitions: 2 },
    { topic: t.enriched, numPartitions: 2 },
    { topic: t.dlq, numPartitions: 1 },
    { topic: t.late, numPartitions: 1 },
    { topic: t.alerts, numPartitions: 1 },
  ]);
  run.check();
  const mainScript = process.argv[1];
  if (!mainScript)
    throw new DemoError('cannot tell how this finsentry was started (process.argv[1] is empty)');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The demo's own pseudonymisation key when the user has none: chat author ids are still hashed.
    FINSENTRY_AUTHOR_KEY: process.env.FINSENTRY_AUTHOR_KEY || randomBytes(24).toString('hex'),
  };
  const runLog = createWriteStream(logPath, { flags: 'a' });
  run.say(
    `run ${runId}: starting finsentry run (models ${path.relative(process.cwd(), sentimentModel) || sentimentModel}, ${path.relative(process.cwd(), nerModel) || nerModel}); service log ${logPath}`,
  );
  const service = new ServiceProcess(
    process.execPath,
    [...process.execArgv, mainScript, 'run', '--config', configPath],
    env,
    runLog,
  );
  run.service = service;
  run.setup.state.servicePid = service.child.pid;
  writeRunState(run.setup.runDir, run.setup.state);
  await waitForReady(service, metricsHost, run.abort.signal);
  run.check();
  await announceReady(run, service);
  run.watcher = new TopicWatcher(
    kafka,
    `${names.groupId}-watch`,
    { alerts: t.alerts, dlq: t.dlq },
    (event) => run.alertSeen(event),
    run.setup.logger,
  );
  await run.watcher.start();
}

async function announceReady(run: DemoRun, service: ServiceProcess): Promise<void> {
  const { prometheusUp, prometheusUrl } = run.setup;
  run.scraped =
    prometheusUp && service.port !== null && (await prometheusScrapes(prometheusUrl, service.port));
  run.say(
    `finsentry run is ready: ${run.metricsUrl()}${run.scraped ? `, scraped by Prometheus at ${prometheusUrl}` : prometheusUp ? ` (Prometheus at ${prometheusUrl} does not scrape this port)` : ''}`,
  );
}

/**
 * Phase 3, replay: the `mixed` scenario of the shared replay plan (src/tools/scenarios/replay-plan.ts),
 * with the Chinese phase's traffic and surge when there is one (src/tools/demo/chinese.ts), produced at --rate, while a 1-second ticker scrapes the service and redraws the view.
 */
export async function replayScenario(run: DemoRun): Promise<void> {
  const { o, config, demo, kafka, names, tty, out, zh } = run.setup;
  run.say(zh.note);
  // The Chinese documents come on top of the English ones: at rate / (1 − share) the English traffic
  // is exactly the default demo's (the Chinese market draws from random streams of its own).
  const rate = o.rate / (1 - zh.share);
  const plan = planReplay({
    scenario: 'mixed',
    seed: o.seed,
    durationMs: o.durationMs,
    rate,
    speedup: o.speedup,
    universe: o.universe,
    config,
    poison: { share: o.poison },
    ...(zh.share > 0 ? { zh: { share: zh.share, surge: {} } } : {}),
    ...(o.realism ? { realism: o.realism } : {}),
    ...(o.biasRatio !== undefined ? { bias: { disparateImpact: o.biasRatio } } : {}),
    rules: demo.rules,
  });
  run.plan = plan;
  const producer = new OutputProducer(kafka, { compression: config.kafka.compression });
  run.producer = producer;
  await producer.connect();
  run.replayStartedAtMs = Date.now();
  run.setPhase('replaying');
  if (tty) out.stdout.write('\x1b[?25l\x1b[2J');
  startTicker(run);
  run.replay = replayMessages(replaySource(plan.run), producer, {
    topics: { news: names.topics.news, chat: names.topics.chat, labels: null },
    ratePerSecond: rate,
    maxBatch: 500,
    signal: run.abort.signal,
    progressEveryMs: 1_000,
    onProgress: (p) => (run.progress = p),
  });
  run.progress = await run.replay;
  run.check();
}

/** Every second: scrape and redraw; if the service died under the replay, stop producing into nothing. */
function startTicker(run: DemoRun): void {
  const service = run.service!;
  run.ticker = setInterval(() => {
    if (!service.running && run.failure === undefined) {
      run.failure = exitedUnexpectedly(service);
      run.abort.abort();
      return;
    }
    void run.scrape().then(() => run.draw());
  }, 1_000);
}

/** Phase 4, drain: wait until the service has committed every input record (or stalls for 3 minutes). */
export async function drainInput(run: DemoRun): Promise<void> {
  const { admin, names, logPath } = run.setup;
  const service = run.service!;
  run.setPhase('draining');
  let lastCommitted = -1;
  let lastMoveMs = Date.now();
  for (;;) {
    run.check();
    if (!service.running) throw exitedUnexpectedly(service);
    const snap = await readOffsetSnapshot({
      admin,
      groupId: names.groupId,
      inputTopics: [names.topics.news, names.topics.chat],
      dlqTopic: names.topics.dlq,
    });
    if (snap.lag === 0) return;
    if (snap.committed !== lastCommitted) {
      lastCommitted = snap.committed;
      lastMoveMs = Date.now();
    } else if (Date.now() - lastMoveMs > 180_000) {
      throw new DemoError(
        `the service committed nothing for 3 minutes with ${snap.lag} records left; see ${logPath}`,
      );
    }
    await sleep(1_000, run.abort.signal);
  }
}

/**
 * Phase 5, settle: the evaluator's last rounds, and every alert and dead letter read back. Done when
 * the evaluator has judged the last complete bucket (its event clock steps through every bucket end, a
 * bounded number per round, so a drained backlog takes a few rounds), or, from a service without that
 * gauge, when it has run a few rounds since the drain; at most a minute past the settle time.
 */
export async function settleOutputs(run: DemoRun): Promise<void> {
  const { config, admin } = run.setup;
  const watcher = run.watcher!;
  run.setPhase('finishing');
  const drainedAtMs = Date.now();
  const deadline = drainedAtMs + run.settleMs + 60_000;
  for (;;) {
    run.check();
    await run.scrape();
    const p = run.figures?.pipeline;
    const lastComplete = Math.floor(run.maxWatermarkMs / config.stats.bucket) * config.stats.bucket;
    const evaluated =
      p?.evaluatedUntilMs != null
        ? p.evaluatedUntilMs >= lastComplete && (p.lastEvaluationMs ?? 0) >= drainedAtMs
        : (p?.lastEvaluationMs ?? 0) >= drainedAtMs + run.settleMs;
    if (evaluated && Date.now() >= drainedAtMs + run.settleMs && (await watcher.caughtUp(admin))) break;
    if (Date.now() > deadline) {
      run.say(
        'the evaluator or the alerts/DLQ topics did not settle within a minute; summarising what arrived',
      );
      break;
    }
    await sleep(500, run.abort.signal);
  }
  await run.scrape();
  run.phase = 'done';
  run.stopTicker();
  run.draw(true);
}
