import { describe, expect, it } from 'vitest';
import { fullJitterDelay } from '@global-iot/core/backoff.js';

describe('fullJitterDelay', () => {
  const policy = { baseMs: 100, maxMs: 1_000 };

  it('doubles the ceiling with each attempt, up to the largest', () => {
    // Prepare: a jitter just below 1 shows the ceiling.
    const top = () => 0.999_999;

    // Act
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) => fullJitterDelay(attempt, policy, top));

    // Assess
    expect(delays).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it('scales the ceiling by the jitter, down to no wait at all', () => {
    // Act
    const delays = [0, 0.25, 0.5].map((jitter) => fullJitterDelay(3, policy, () => jitter));

    // Assess
    expect(delays).toEqual([0, 100, 200]);
  });
});
