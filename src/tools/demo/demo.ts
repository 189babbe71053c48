import type { DemoOptions, Output } from './options.js';
import { drainInput, replayScenario, settleOutputs, startService } from './phases.js';
import { preflight } from './preflight.js';
import { DemoRun } from './run-state.js';
import { summarise } from './summarise.js';

export { DemoError } from './errors.js';
export { DEFAULT_ALERTMANAGER_URL, DEFAULT_METRICS_PORT, DEFAULT_PROMETHEUS_URL } from './options.js';
export type { DemoOptions } from './options.js';

/**
 * `finsentry demo`, the I/O side: starts `finsentry run` as a child process on the demo's own
 * topics, consumer group and Redis prefix (src/tools/demo/config.ts), replays the `mixed` scenario into it
 * from this process, watches the service's /metrics, the alerts topic and the DLQ, draws the live view
 * (src/tools/demo/view.ts) and ends with the summary (src/tools/demo/summary.ts).
 *
 * A run is a sequence of phases around one state object (DemoRun, src/tools/demo/run-state.ts):
 *
 *   pre-flight (preflight.ts) → start → replay → drain → settle (phases.ts) → summarise (summarise.ts)
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
export async function runDemo(
  o: DemoOptions,
  out: Output = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const run = new DemoRun(await preflight(o, out));
  run.listenForSignals();
  try {
    await startService(run);
    await replayScenario(run);
    await drainInput(run);
    await settleOutputs(run);
  } catch (err) {
    run.recordError(err);
  } finally {
    run.stopTicker();
    if (run.setup.tty) out.stdout.write('\x1b[?25h');
  }
  return summarise(run);
}
