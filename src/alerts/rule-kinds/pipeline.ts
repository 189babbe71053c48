import type { Measurement } from '../state-machine.js';
import type { PipelineSignals, RuleMeasureContext } from '../measure-inputs.js';

/**
 * Pipeline rules (group "*"): dlq_rate (DLQ records/s), dlq_share (DLQ records / input records
 * consumed), consumer_lag (messages), stalled_seconds (seconds the committed offsets have not moved
 * while lag > 0), input_rate (records/s), late_share (records on the late topic — refused by the
 * window store as late or future, docs/guarantees.md#event-time — / input records consumed).
 */
const PIPELINE_VALUES: Record<string, (s: PipelineSignals) => number> = {
  dlq_rate: (s) => s.dlqRate,
  dlq_share: (s) => s.dlqShare,
  consumer_lag: (s) => s.consumerLag,
  stalled_seconds: (s) => s.stalledSeconds,
  input_rate: (s) => s.inputRate,
  late_share: (s) => s.lateShare ?? 0,
};

export function measurePipelineRule({ rule, inputs, base }: RuleMeasureContext): Measurement[] {
  const signals = inputs.pipeline;
  if (!signals) return [];
  const valueOf = PIPELINE_VALUES[rule.metric];
  if (!valueOf) throw new Error(`rule ${rule.name}: unknown pipeline metric ${rule.metric}`);
  const value = valueOf(signals);
  return [{ ...base, group: '*', value, sampleSize: 0, judged: Number.isFinite(value) }];
}
