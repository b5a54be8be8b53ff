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

/**
 * withTimeout for work that can be stopped: `operation` gets a signal that aborts, with the
 * time-out error as its reason, once `ms` have passed, so the request it made stops too and not
 * only the wait for it. The caller sees the time-out error, never the abort it causes.
 */
export async function withAbortTimeout<T>(operation: (signal: AbortSignal) => Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  const controller = new AbortController();
  let expired: Error | undefined;
  try {
    return await withTimeout(operation(controller.signal), ms, () => (expired = onTimeout()));
  } finally {
    // After the race is lost to the timer, so the operation's own abort error cannot win it.
    if (expired) controller.abort(expired);
  }
}
