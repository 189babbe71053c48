import type { InputLabel } from '../codec/validate.js';

/**
 * Receiver of decoded human labels from the optional labels topic (design §2, §5).
 *
 * Joining a label to the prediction and the groups of its document is the statistics side's job (it
 * needs the prediction stored by document id, in Redis with a TTL, to build LabelObservations for the
 * confusion matrices). The pipeline only decodes and validates Label records, dead-letters bad ones
 * and hands the rest over here; their offsets are committed once `accept` resolves. `accept` must be
 * idempotent per label position (a replay after a crash delivers the same labels again).
 *
 * When no LabelSink is configured, the labels topic is not consumed at all.
 */
export interface LabelSink {
  accept(labels: InputLabel[]): Promise<void>;
}
