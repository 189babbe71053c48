// Fault: Redis frozen (SIGSTOP) for longer than health.stallAfter under steady input (issue 14: /healthz
// stayed 200 for 90 s and finsentry_consumer_lag_messages read 0 while 290 records waited). The
// processor's lag must be read from the broker, each owned partition with records waiting must show
// its stall, /healthz must turn 503 within stallAfter + a sample, and after SIGCONT everything is
// committed, nothing lost or double counted, /healthz is 200 again. Private Redis: freezing the
// shared one would stall every other test.
import { describe, expect, it } from 'vitest';
import { encodeNews, news, produce } from '../helpers/avro-producer.js';
import {
  commitAllAndStop,
  expectRunning,
  expectWindowsMatch,
  faultFixture,
} from '../helpers/fault-fixture.js';
import { ledgerProblems, printFigures } from '../helpers/ledger.js';
import { metricSamples, opsPort } from '../helpers/ops-endpoint.js';
import { waitFor } from '../helpers/stack.js';

const STALL_AFTER_S = 10;
const PER_SECOND = 10;

const fx = faultFixture({ dir: 'redis-pause', name: 'redispause', privateStack: ['redis'] });

describe('fault: Redis frozen (SIGSTOP)', () => {
  it('turns /healthz unhealthy with lag and a stall per partition while Redis hangs, recovers after SIGCONT', async () => {
    const { path: configPath, config } = fx.writeConfig({
      health: { stallAfter: `${STALL_AFTER_S}s`, lagInterval: '1s' },
    });
    const progress = fx.progress();
    const processor = fx.start(configPath);
    let sent = 0;
    const send = async (n: number) => {
      const messages = Array.from({ length: n }, () => {
        const id = `rp-${sent++}`;
        return { key: id, value: encodeNews(news(id, { published_at: Date.now() - 60_000 })) };
      });
      await produce(fx.kafka, fx.topics.news, messages);
    };
    const figures = {
      secondsToUnhealthy: 0,
      lagWhileFrozen: 0,
      maxStallSeconds: 0,
      stalledSeries: 0,
      recoverySeconds: 0,
    };
    let steady = true;
    try {
      await send(100);
      await progress.waitForAllCommitted([processor], 300_000);
      const port = opsPort(processor.output);
      expect(port).not.toBeNull();
      const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
      expect((await get('/healthz')).status).toBe(200);

      // Steady input through the freeze.
      const input = (async () => {
        while (steady) {
          await send(PER_SECOND);
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      })();
      fx.stack.signal('redis', 'SIGSTOP');
      const frozenAt = Date.now();
      await waitFor(async () => (await get('/healthz')).status === 503, (STALL_AFTER_S + 50) * 1000, 250);
      figures.secondsToUnhealthy = (Date.now() - frozenAt) / 1000;
      const text = await (await get('/metrics')).text();
      const lag = metricSamples(text, 'finsentry_consumer_lag_messages');
      const stall = metricSamples(text, 'finsentry_partition_stall_seconds');
      figures.lagWhileFrozen = lag.sum;
      figures.maxStallSeconds = stall.max;
      figures.stalledSeries = text
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('finsentry_partition_stall_seconds{') && Number(l.split(' ').pop()) >= STALL_AFTER_S,
        ).length;
      expectRunning(processor);

      fx.stack.signal('redis', 'SIGCONT');
      const resumedAt = Date.now();
      steady = false;
      await input;
      await progress.waitForAllCommitted([processor], 300_000);
      await waitFor(async () => (await get('/healthz')).status === 200, 30_000, 250);
      figures.recoverySeconds = (Date.now() - resumedAt) / 1000;
      await commitAllAndStop(progress, [processor], 60_000);
    } finally {
      steady = false;
      try {
        fx.stack.signal('redis', 'SIGCONT');
      } catch {
        // already gone
      }
      await processor.ensureStopped();
      await progress.close();
    }

    const ledger = await fx.collectLedger();
    const report = ledger.report(() => 'enriched');
    const outcome = { ...(await fx.checkWindows(ledger, config)) };
    printFigures({
      fault: 'Redis frozen (SIGSTOP)',
      report,
      recoverySeconds: [figures.recoverySeconds],
      extra: { ...figures, windowDocuments: outcome.windows.documents },
    });
    expect(ledgerProblems(report)).toEqual([]);
    expect(figures.secondsToUnhealthy).toBeLessThan(STALL_AFTER_S + 30);
    expect(figures.lagWhileFrozen).toBeGreaterThan(0);
    expect(figures.stalledSeries).toBeGreaterThan(0);
    expectWindowsMatch(outcome);
  });
});
