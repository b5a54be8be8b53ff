import { describe, expect, it } from 'vitest';
import { BoundedCache } from '@global-iot/core/bounded-cache.js';

/** The one bounded cache behind parsed keys and TLS contexts (core/signing, the device). */

describe('BoundedCache', () => {
  it('builds each key once and evicts the least recently used, not the oldest', () => {
    // Prepare
    const cache = new BoundedCache<string, string>(2);
    const built: string[] = [];
    const get = (key: string) =>
      cache.get(key, () => {
        built.push(key);
        return key.toUpperCase();
      });

    // Act: `shared` is used between each one-off key, so it is never the least recent.
    const answers = ['shared', 'a', 'shared', 'b', 'shared', 'c', 'a'].map(get);

    // Assess
    expect(answers).toEqual(['SHARED', 'A', 'SHARED', 'B', 'SHARED', 'C', 'A']);
    expect(built).toEqual(['shared', 'a', 'b', 'c', 'a']);
    expect(cache.size).toBe(2);
  });

  it('caches nothing when building throws, and builds again next time', () => {
    // Prepare
    const cache = new BoundedCache<string, number>(4);
    let attempts = 0;
    const failing = () => {
      attempts += 1;
      throw new Error('not a key');
    };

    // Act
    const first = (() => {
      try {
        return cache.get('bad', failing);
      } catch (error) {
        return error;
      }
    })();
    const second = cache.get('bad', () => 7);

    // Assess
    expect(first).toBeInstanceOf(Error);
    expect(attempts).toBe(1);
    expect(second).toBe(7);
    expect(cache.size).toBe(1);
  });

  it('refuses a limit below one', () => {
    expect(() => new BoundedCache(0)).toThrow(RangeError);
    expect(() => new BoundedCache(1.5)).toThrow(RangeError);
  });
});
