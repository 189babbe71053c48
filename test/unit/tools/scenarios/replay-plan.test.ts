// The replay plan shared by `finsentry replay` and `finsentry demo` (src/tools/scenarios/replay-plan.ts):
// clock arithmetic and the messages it yields.
import { describe, expect, it } from 'vitest';
import { DEFAULT_ALERT_RULES_RAW } from '../../../../src/alerts/default-rules.js';
import { parseConfig } from '../../../../src/config/load.js';
import {
  planReplay,
  plannedMessages,
  replayClock,
  replaySource,
} from '../../../../src/tools/scenarios/replay-plan.js';

const config = parseConfig({ alerts: { rules: DEFAULT_ALERT_RULES_RAW } });
const rules = config.alerts!.rules;

describe('replay plan', () => {
  it('starts event time at now − duration + duration / speedup, so the last message is about now', () => {
    const now = Date.UTC(2026, 0, 5, 12, 0);
    const clock = replayClock({ durationMs: 3_600_000, rate: 120, speedup: 60 }, now);
    expect(clock.eventRate).toBe(2);
    expect(clock.startMs).toBe(now - 3_600_000 + 60_000);
    expect(clock.endMs).toBe(now + 60_000);
    expect(clock.plannedTotal).toBe(7_200);
    expect(plannedMessages({ durationMs: 3_600_000, rate: 120, speedup: 60 })).toBe(7_200);
    expect(replayClock({ durationMs: 60_000, rate: 10, speedup: 1, startMs: 5 }, now).startMs).toBe(5);
  });

  it('yields the generated messages in order, with ids, and writes each document truth as it goes', async () => {
    const options = {
      scenario: 'mixed' as const,
      seed: 7,
      durationMs: 600_000,
      rate: 60,
      speedup: 60,
      startMs: Date.UTC(2026, 0, 5, 9, 0),
      universe: undefined,
      config,
      poison: { share: 0.05 },
      rules,
    };
    const truths: string[] = [];
    const writer = { add: (d: { id: string }) => Promise.resolve(void truths.push(d.id)) };
    const plan = planReplay(options);
    const seen: string[] = [];
    for await (const m of replaySource(plan.run, writer as never)) {
      expect(m.line.id).toBe(m.id);
      expect(m.key).toBe(m.id);
      seen.push(m.id);
    }
    expect(plan.run.truth.complete).toBe(true);
    expect(seen).toHaveLength(plan.run.truth.counts.total);
    expect(truths).toEqual(seen);
    const again = [...planReplay(options).run.messages].map((m) => m.id);
    expect(again).toEqual(seen); // same seed, same traffic
  });

  it('plants the disparity it is given (--bias-ratio), and the generator default without one', () => {
    const base = {
      scenario: 'region-bias' as const,
      seed: 13,
      durationMs: 600_000,
      rate: 120,
      speedup: 60,
      startMs: Date.UTC(2026, 0, 5, 9, 0),
      universe: undefined,
      config,
      rules,
    };
    const planted = (options: Parameters<typeof planReplay>[0]) => {
      const bias = planReplay(options).run.truth.injected.find((e) => e.kind === 'bias')!;
      return bias.params!.expectedDisparateImpact as number;
    };
    expect(planted({ ...base, bias: { disparateImpact: 0.5 } })).toBeCloseTo(0.5, 12);
    expect(planted(base)).toBeCloseTo(0.6, 12);
  });
});
