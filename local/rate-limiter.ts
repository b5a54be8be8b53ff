/**
 * Token buckets for the local cloud's AWS quotas: `ratePerSecond` requests a second on average,
 * with bursts of up to `burst` (by default one second's worth, at least one), on an injected clock.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number,
    private readonly burst: number = Math.max(1, ratePerSecond),
  ) {
    this.tokens = burst;
    this.at = now();
  }

  /** Takes one token if there is one: true when the request may go ahead. */
  take(): boolean {
    const at = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((at - this.at) / 1000) * this.ratePerSecond);
    this.at = at;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** True once the bucket has refilled: forgetting it then changes nothing. */
  full(): boolean {
    return this.tokens + ((this.now() - this.at) / 1000) * this.ratePerSecond >= this.burst;
  }
}

/** One bucket per key (a client id, say); buckets that have refilled are forgotten now and then. */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private takesSinceSweep = 0;

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number,
    private readonly sweepEvery = 1_000,
  ) {}

  take(key: string): boolean {
    if (++this.takesSinceSweep >= this.sweepEvery) this.sweep();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.ratePerSecond, this.now);
      this.buckets.set(key, bucket);
    }
    return bucket.take();
  }

  private sweep(): void {
    this.takesSinceSweep = 0;
    for (const [key, bucket] of this.buckets) if (bucket.full()) this.buckets.delete(key);
  }
}
