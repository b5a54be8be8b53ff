import { describe, expect, it, vi } from 'vitest';
import { withTimeout } from '@global-iot/core/timeout.js';

/** The one promise time-out (device MQTT calls, the local IoT's hook call, the local Lambda). */

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
