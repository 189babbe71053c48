/**
 * Token bucket for the replay's wall-clock rate: `ratePerSecond` tokens accrue continuously up to
 * `burst`; taking n tokens waits until they are there. The clock and the sleep are injectable so that
 * the arithmetic is unit-tested without waiting.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly clock: Clock = systemClock,
  ) {
    if (!(ratePerSecond > 0)) throw new Error('token bucket rate must be positive');
    if (!(burst >= 1)) throw new Error('token bucket burst must be at least 1');
    this.tokens = burst;
    this.last = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }

  /** Milliseconds until `n` tokens are available (0 when they are). */
  delayFor(n: number): number {
    this.refill();
    const missing = Math.min(n, this.burst) - this.tokens;
    return missing <= 0 ? 0 : (missing / this.ratePerSecond) * 1000;
  }

  /** Takes `n` tokens (n may exceed burst: it is then paid off in burst-sized installments). */
  async take(n: number): Promise<void> {
    let remaining = n;
    while (remaining > 0) {
      const chunk = Math.min(remaining, this.burst);
      const wait = this.delayFor(chunk);
      if (wait > 0) await this.clock.sleep(wait);
      this.refill();
      this.tokens -= chunk;
      remaining -= chunk;
    }
  }
}
