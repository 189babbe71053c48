import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DemoRun } from './run-state.js';
import { buildSummary, renderSummary, type DemoSummary } from './summary.js';

/** Pipeline metrics that measure this machine's capacity rather than the traffic (see SummaryInput). */
const CAPACITY_METRICS = new Set(['consumer_lag', 'stalled_seconds', 'input_rate']);

/**
 * Phase 6, summarise: stops the replay and the service (unless --keep-running and all went well),
 * writes the summary (truth.json, summary.json, summary.txt, --summary-json) and prints it, then
 * closes the demo's clients. Rethrows the run's failure; otherwise returns the exit code: 130 when
 * interrupted, 3 for a FAIL under --check, else 0.
 */
export async function summarise(run: DemoRun): Promise<number> {
  const { o, config, admin, names, logger } = run.setup;
  const keepService =
    o.keepRunning && !run.interrupted && run.failure === undefined && run.service?.running === true;
  if (!keepService) await stopReplayAndService(run);
  await run.producer?.disconnect().catch(() => undefined);

  if (run.plan && (run.failure === undefined || run.interrupted)) {
    run.summary = summaryOf(run, keepService);
    writeSummary(run, run.summary);
  }
  await run.watcher?.stop();

  if (run.failure !== undefined) {
    if (run.service?.running) await run.service.stop(config.shutdown.deadline + 10_000);
    await admin.disconnect().catch(() => undefined);
    run.stopListeningForExit();
    throw run.failure;
  }
  if (keepService && run.service) await keepServiceRunning(run);
  await admin.deleteGroups([`${names.groupId}-watch`]).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  run.stopListeningForSignals();
  run.stopListeningForExit();
  logger.flush();
  if (run.interrupted) return 130;
  if (o.check && run.summary && !run.summary.pass) return 3;
  return 0;
}

/** Replay first (it stops at its next batch once aborted), then the service: SIGTERM, in-flight batches commit. */
async function stopReplayAndService(run: DemoRun): Promise<void> {
  if (run.interrupted && run.replay) await run.replay.catch(() => undefined);
  if (run.service?.running) {
    run.say('stopping finsentry run (SIGTERM: in-flight batches finish and commit)');
    await run.service.stop(run.setup.config.shutdown.deadline + 10_000);
  }
}

function summaryOf(run: DemoRun, serviceRunning: boolean): DemoSummary {
  const s = run.setup;
  return buildSummary({
    runId: s.runId,
    truth: run.plan!.run.truth,
    alertEvents: run.watcher?.alerts.events ?? [],
    capacityRules: (s.config.alerts?.rules ?? [])
      .filter((r) => r.kind === 'pipeline' && CAPACITY_METRICS.has(r.metric))
      .map((r) => r.name),
    deadLetters: run.watcher?.deadLetters ?? [],
    produced: run.progress?.sent ?? 0,
    enriched: run.figures?.pipeline.processed ?? null,
    wall: {
      startedAtMs: run.startedAtMs,
      replayStartedAtMs: run.replayStartedAtMs,
      finishedAtMs: Date.now(),
    },
    interrupted: run.interrupted,
    locations: {
      metricsUrl: run.metricsUrl(),
      serviceRunning,
      prometheusUrl: s.prometheusUp ? s.prometheusUrl : null,
      prometheusScrapes: run.scraped,
      alertmanagerUrl: s.alertmanagerUp ? s.alertmanagerUrl : null,
      brokers: s.config.kafka.brokers,
      topics: s.names.topics,
      groupId: s.names.groupId,
      keyPrefix: s.names.keyPrefix,
      runDir: s.runDir,
      configPath: s.configPath,
      logPath: s.logPath,
    },
  });
}

function writeSummary(run: DemoRun, summary: DemoSummary): void {
  const { runDir, o, out } = run.setup;
  writeFileSync(path.join(runDir, 'truth.json'), `${JSON.stringify(run.plan!.run.truth, null, 1)}\n`);
  writeFileSync(path.join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  if (o.summaryJson) writeFileSync(o.summaryJson, `${JSON.stringify(summary, null, 2)}\n`);
  const text = renderSummary(summary);
  writeFileSync(path.join(runDir, 'summary.txt'), `${text.join('\n')}\n`);
  out.stdout.write(`\n${text.join('\n')}\n`);
}

/** --keep-running: the service stays up (topics and Redis state as summarised) until Ctrl-C or its own exit. */
async function keepServiceRunning(run: DemoRun): Promise<void> {
  const service = run.service!;
  run.phase = 'done';
  run.say(
    `finsentry keeps running on ${run.metricsUrl()} (topics and Redis state as above); Ctrl-C stops it`,
  );
  await Promise.race([
    new Promise<void>((resolve) =>
      run.abort.signal.addEventListener('abort', () => resolve(), { once: true }),
    ),
    service.exited,
  ]);
  if (service.running) {
    run.say('stopping finsentry run');
    await service.stop(run.setup.config.shutdown.deadline + 10_000);
  }
}
