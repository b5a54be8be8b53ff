import { describe, expect, it, vi } from 'vitest';
import { withAbortTimeout, withTimeout } from '@global-iot/core/timeout.js';

/** The one promise time-out (device MQTT calls, the local IoT's hook call, the local Lambda, the ops CLI's regional calls). */

class Late extends Error {}

describe('withTimeout', () => {
  it('gives the answer that comes in time, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    try {
      // Act
      const answer = await withTimeout(Promise.resolve(42), 1_000, () => new Late());

      // Assess
      expect(answer).toBe(42);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects with the time-out error once the time has passed', async () => {
    vi.useFakeTimers();
    try {
      // Prepare
      const never = new Promise<number>(() => undefined);
      const outcome = withTimeout(never, 1_000, () => new Late('no answer within 1000 ms')).catch((error: unknown) => error);

      // Act
      await vi.advanceTimersByTimeAsync(999);
      const early = vi.getTimerCount();
      await vi.advanceTimersByTimeAsync(1);

      // Assess
      expect(early).toBe(1);
      const error = await outcome;
      expect(error).toBeInstanceOf(Late);
      expect((error as Error).message).toBe('no answer within 1000 ms');
    } finally {
      vi.useRealTimers();
    }
  });

  it('passes a rejection of the promise through and clears the timer', async () => {
    vi.useFakeTimers();
    try {
      // Act
      const error = await withTimeout(Promise.reject(new Error('refused')), 1_000, () => new Late()).catch((e: unknown) => e);

      // Assess
      expect((error as Error).message).toBe('refused');
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('withAbortTimeout', () => {
  /** An operation that settles only when told to stop, as an SDK call does with its abort signal. */
  const untilAborted = (seen: { signal?: AbortSignal }) => (signal: AbortSignal) => {
    seen.signal = signal;
    return new Promise<number>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted by the signal'))));
  };

  it('gives the answer that comes in time, without aborting it or leaving a timer', async () => {
    vi.useFakeTimers();
    try {
      // Prepare
      let seen: AbortSignal | undefined;

      // Act
      const answer = await withAbortTimeout(
        async (signal) => {
          seen = signal;
          return 42;
        },
        1_000,
        () => new Late(),
      );

      // Assess
      expect(answer).toBe(42);
      expect(seen?.aborted).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('aborts the operation once the time has passed and rejects with the time-out, not the abort', async () => {
    vi.useFakeTimers();
    try {
      // Prepare
      const seen: { signal?: AbortSignal } = {};
      const outcome = withAbortTimeout(untilAborted(seen), 1_000, () => new Late('no answer within 1000 ms')).catch((error: unknown) => error);

      // Act
      await vi.advanceTimersByTimeAsync(999);
      const early = seen.signal?.aborted;
      await vi.advanceTimersByTimeAsync(1);

      // Assess
      expect(early).toBe(false);
      const error = await outcome;
      expect(error).toBeInstanceOf(Late);
      expect((error as Error).message).toBe('no answer within 1000 ms');
      expect(seen.signal?.aborted).toBe(true);
      expect(seen.signal?.reason).toBe(error);
    } finally {
      vi.useRealTimers();
    }
  });

  it("passes the operation's own failure through and does not abort it", async () => {
    // Prepare
    let seen: AbortSignal | undefined;

    // Act
    const error = await withAbortTimeout(
      async (signal) => {
        seen = signal;
        throw new Error('refused');
      },
      1_000,
      () => new Late(),
    ).catch((e: unknown) => e);

    // Assess
    expect((error as Error).message).toBe('refused');
    expect(seen?.aborted).toBe(false);
  });
});
