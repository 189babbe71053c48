/**
 * Dynamic micro-batching (design §3), after Hugging Face TEI: a batch is bounded by a token budget
 * counted with padding (batch size × longest sequence), by a maximum size and by a maximum wait.
 *
 * Scheduling rules, all pure logic around an injected `runBatch`:
 * - A batch is dispatched as soon as the queue holds a full batch (size or token budget reached), or
 *   when its oldest item has waited `maxWaitMs`, whichever is first — provided fewer than
 *   `maxInFlightBatches` batches are running; otherwise it goes out as soon as one finishes.
 * - The oldest queued item always goes into the next batch (no starvation); the rest of the batch is
 *   filled with the queued items closest to it in length (length bucketing cuts padding), and an item
 *   is left for a later batch when taking it would make more than `maxPaddingRatio` of the batch's
 *   padded tokens padding. On a CPU the cost of a batch grows with its padded tokens, so a large
 *   token budget alone would let one 128-token window pad sixty 20-token chat windows (the bench
 *   measured 58–64% padding that way); the cap keeps short and long windows in separate batches.
 * - The queue is bounded (`maxQueued` items): `submit` waits for room, so memory stays bounded
 *   whatever the caller. In the service the pipeline bounds its input before it gets here (its own
 *   micro-batches and partition pauses, docs/inference.md "Two batching layers").
 * An item longer than the whole token budget is sent alone (it cannot be split here; keep
 * maxBatchTokens ≥ the tokenizer's maxLength, which the enricher checks).
 */

export interface BatcherOptions {
  maxBatchSize: number;
  /** Padded tokens per batch. */
  maxBatchTokens: number;
  maxWaitMs: number;
  maxInFlightBatches: number;
  /** Items queued (not yet dispatched) before `submit` waits for room. */
  maxQueued: number;
  /** Largest share of a batch's padded tokens that may be padding (0–1); 1 = no cap. Default 1. */
  maxPaddingRatio?: number;
}

export interface BatchStats {
  size: number;
  /** batch size × longest item. */
  paddedTokens: number;
  /** Sum of item lengths. */
  realTokens: number;
  /** Longest time an item of this batch waited in the queue, ms. */
  maxQueueMs: number;
  meanQueueMs: number;
  /** Time in runBatch, ms. */
  modelMs: number;
  /** Batches running when this one finished (including itself). */
  inFlight: number;
  failed: boolean;
}

export interface SizedItem {
  /** Sequence length in tokens. */
  readonly length: number;
}

interface Pending<I, O> {
  item: I;
  enqueuedAt: number;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

export type Clock = () => number;

/**
 * Picks the batch: the oldest pending item plus those nearest in length, within size, token budget
 * and padding cap (share of padded tokens that are padding, 1 = no cap).
 */
export function selectBatch(
  lengths: readonly number[],
  oldest: number,
  maxBatchSize: number,
  maxBatchTokens: number,
  maxPaddingRatio = 1,
): number[] {
  const anchorLength = lengths[oldest] ?? 0;
  const order = lengths
    .map((length, index) => ({ length, index }))
    .filter((c) => c.index !== oldest)
    .sort(
      (a, b) => Math.abs(a.length - anchorLength) - Math.abs(b.length - anchorLength) || a.index - b.index,
    );
  const chosen = [oldest];
  let longest = anchorLength;
  let real = anchorLength;
  for (const candidate of order) {
    if (chosen.length >= maxBatchSize) break;
    const newLongest = Math.max(longest, candidate.length);
    const padded = newLongest * (chosen.length + 1);
    if (padded > maxBatchTokens) continue;
    if (padded > 0 && 1 - (real + candidate.length) / padded > maxPaddingRatio) continue;
    chosen.push(candidate.index);
    longest = newLongest;
    real += candidate.length;
  }
  return chosen.sort((a, b) => a - b);
}

export class MicroBatcher<I extends SizedItem, O> {
  private queue: Array<Pending<I, O>> = [];
  private queuedTokens = 0;
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerDue = Infinity;
  private roomWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly options: BatcherOptions,
    private readonly runBatch: (items: I[]) => Promise<O[]>,
    private readonly onBatch?: (stats: BatchStats) => void,
    private readonly now: Clock = () => performance.now(),
  ) {
    for (const key of ['maxBatchSize', 'maxBatchTokens', 'maxInFlightBatches', 'maxQueued'] as const) {
      if (!(options[key] >= 1)) throw new Error(`batching.${key} must be at least 1`);
    }
    const cap = options.maxPaddingRatio ?? 1;
    if (!(cap >= 0 && cap <= 1)) throw new Error('batching.maxPaddingRatio must be between 0 and 1');
  }

  get queued(): number {
    return this.queue.length;
  }

  get running(): number {
    return this.inFlight;
  }

  /** True while `maxQueued` items wait: a `submit` now waits for room. */
  isFull(): boolean {
    return this.queue.length >= this.options.maxQueued;
  }

  /** Queues one item; waits for room when the queue is full. Resolves with its output. */
  async submit(item: I): Promise<O> {
    while (this.isFull()) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    if (this.closed) throw new Error('batcher is closed');
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, enqueuedAt: this.now(), resolve, reject });
      this.queuedTokens += item.length;
      this.schedule();
    });
  }

  /** Resolves when nothing is queued or running. */
  async idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting items, flushes what is queued and waits for running batches. */
  async close(): Promise<void> {
    this.closed = true;
    this.flushAll = true;
    this.schedule();
    await this.idle();
  }
  private flushAll = false;

  private hasFullBatch(): boolean {
    return this.queue.length >= this.options.maxBatchSize || this.queuedTokens >= this.options.maxBatchTokens;
  }

  private schedule(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlightBatches) {
      const oldest = this.queue[0];
      if (!oldest) break;
      const due = oldest.enqueuedAt + this.options.maxWaitMs;
      if (!this.flushAll && !this.hasFullBatch() && this.now() < due) {
        this.armTimer(due);
        return;
      }
      this.dispatch();
    }
    if (this.queue.length === 0) this.clearTimer();
  }

  private armTimer(due: number): void {
    if (this.timer && this.timerDue <= due) return;
    this.clearTimer();
    this.timerDue = due;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerDue = Infinity;
        this.schedule();
      },
      Math.max(0, due - this.now()),
    );
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
  }

  private dispatch(): void {
    const indices = selectBatch(
      this.queue.map((p) => p.item.length),
      0,
      this.options.maxBatchSize,
      this.options.maxBatchTokens,
      this.options.maxPaddingRatio ?? 1,
    );
    const picked = new Set(indices);
    const batch = indices.map((i) => this.queue[i] as Pending<I, O>);
    this.queue = this.queue.filter((_, i) => !picked.has(i));
    for (const p of batch) this.queuedTokens -= p.item.length;
    this.inFlight++;
    this.releaseRoom();

    const start = this.now();
    let longest = 0;
    let real = 0;
    let waitSum = 0;
    let waitMax = 0;
    for (const p of batch) {
      longest = Math.max(longest, p.item.length);
      real += p.item.length;
      const waited = start - p.enqueuedAt;
      waitSum += waited;
      waitMax = Math.max(waitMax, waited);
    }
    const finish = (failed: boolean): void => {
      const stats: BatchStats = {
        size: batch.length,
        paddedTokens: longest * batch.length,
        realTokens: real,
        maxQueueMs: waitMax,
        meanQueueMs: waitSum / batch.length,
        modelMs: this.now() - start,
        inFlight: this.inFlight,
        failed,
      };
      this.inFlight--;
      try {
        this.onBatch?.(stats);
      } catch {
        // an observer must not break inference
      }
      this.schedule();
      if (this.queue.length === 0 && this.inFlight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    };
    let promise: Promise<O[]>;
    try {
      promise = this.runBatch(batch.map((p) => p.item));
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (outputs) => {
        if (outputs.length !== batch.length) {
          const err = new Error(`runBatch returned ${outputs.length} outputs for ${batch.length} items`);
          for (const p of batch) p.reject(err);
          finish(true);
          return;
        }
        batch.forEach((p, i) => p.resolve(outputs[i] as O));
        finish(false);
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
        finish(true);
      },
    );
  }

  private releaseRoom(): void {
    while (this.roomWaiters.length > 0 && !this.isFull()) this.roomWaiters.shift()?.();
  }
}
