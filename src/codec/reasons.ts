/**
 * Why an input record was rejected to the DLQ. The codes are the machine-readable contract of the
 * `finsentry.dlq.reason` header (schemas/DeadLetter.avsc) and of the DLQ metric's `reason` label.
 */
export const REJECT_REASONS = [
  'empty-message',
  'message-too-large',
  'corrupt-avro',
  'unknown-schema-id',
  'wrong-schema',
  'invalid-field',
  'invalid-timestamp',
  'empty-text',
  'text-too-large',
  'enrich-failed',
  // A whole fetched record batch (src/io/kafka/bounded-codecs.ts): each of its records is dead-lettered.
  'decompression-limit',
  'corrupt-batch',
  'unsupported-compression',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const REJECT_STAGES = ['decode', 'validate', 'enrich'] as const;
export type RejectStage = (typeof REJECT_STAGES)[number];

export interface Rejection {
  reason: RejectReason;
  stage: RejectStage;
  /** Human-readable detail: the field, the limit, the decoder's complaint. */
  message: string;
}

export function reject(reason: RejectReason, stage: RejectStage, message: string): Rejection {
  return { reason, stage, message };
}
