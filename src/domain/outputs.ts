// Thrown by a Delivery (src/io/kafka/delivery.ts) and handled by the processor (src/pipeline): it is
// part of their contract, so it lives with the domain types rather than in the adapter.

/**
 * Thrown by exactly-once outputs when a transaction failed: its records are aborted (or will be, by the
 * coordinator), so retrying one send cannot help — the batch must be redone from its last committed
 * offset. The processor gives the batch up (after a backoff) and kafkajs fetches it again.
 */
export class OutputsLost extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutputsLost';
  }
}
