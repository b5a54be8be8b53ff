/**
 * Races `promise` against a timer that is always cleared, so no timer outlives the call: the
 * result, or the error `onTimeout` makes once `ms` have passed. The promise itself is left to
 * settle on its own; whoever needs it stopped stops it.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
