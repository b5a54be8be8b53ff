import { fullJitterDelay } from '@global-iot/core/backoff.js';
import { SHADOW_KEY } from '@global-iot/core/lifecycle/shadow-protocol.js';
import { storedTarget } from '../endpoint.js';
import { toEventError } from '../events.js';
import type { DeviceIdentity, ProvisionDeps, ProvisionOptions, ProvisionResult } from '../flow/types.js';
import type { DeviceSession } from '../mqtt.js';
import { lifecycleSettings } from './options.js';
import { lifecycleViewOf } from './shadow.js';

/**
 * `--listen <s>` (README, "How the device learns of a request"): after its run, the device stays
 * connected with its own certificate, subscribed to its shadow's `/update/delta`, and runs again
 * as soon as a move, a rotation or the cloud's `current` arrives there. A move or rotation that
 * did not go through (the new region unreachable, say), or a switch the cloud has not confirmed
 * yet, is tried again after a back-off (exponential, full jitter) while listening.
 */

type Run = () => Promise<ProvisionResult>;

/** What wakes the listener: a request in the delta, the back-off's end, or the end of listening. */
type Wake = 'asked' | 'retry' | 'done';

function asksSomething(state: Readonly<Record<string, unknown>>): boolean {
  const section = state[SHADOW_KEY];
  return typeof section === 'object' && section !== null && Object.keys(section).length > 0;
}

const timer = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A wait that ends early without leaving its timer behind (which would keep the process alive). */
function cancellable(ms: number): { readonly done: Promise<void>; cancel(): void } {
  let handle: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => (handle = setTimeout(resolve, ms)));
  return { done, cancel: () => clearTimeout(handle) };
}

async function openOwnSession(deps: ProvisionDeps, thingName: string): Promise<DeviceSession | undefined> {
  const stored = await deps.store.load(thingName);
  if (stored?.credentials === undefined || stored.state.step !== 'confirmed') return undefined;
  return deps.transport.openDeviceSession(storedTarget(stored.state), thingName, stored.credentials);
}

/**
 * Waits on the device's own connection for a request in the delta, at most `waitMs`; with
 * `retrying`, a request already in the shadow (the one that was deferred) does not count,
 * only the back-off's end or a new delta.
 */
async function waitForRequest(deps: ProvisionDeps, thingName: string, waitMs: number, retrying: boolean): Promise<Wake> {
  const session = await openOwnSession(deps, thingName);
  if (session === undefined) return 'done';
  let wake: (value: Wake) => void = () => undefined;
  const woken = new Promise<Wake>((resolve) => (wake = resolve));
  try {
    await session.onDelta(thingName, (state) => {
      if (asksSomething(state)) wake('asked');
    });
    // A request that came before the subscription is in the shadow already.
    if (!retrying) {
      const view = lifecycleViewOf(await session.getShadow(thingName));
      if (view.move !== undefined || view.rotate !== undefined) return 'asked';
    }
    deps.onEvent({ thingName, step: 'listen', status: 'start', detail: { waitMs, retrying } });
    const wait = cancellable(waitMs);
    try {
      const woke = await Promise.race([woken, wait.done.then((): Wake => (retrying ? 'retry' : 'done'))]);
      deps.onEvent({ thingName, step: 'listen', status: 'ok', detail: { woke } });
      return woke;
    } finally {
      wait.cancel();
    }
  } finally {
    await session.close().catch(() => undefined);
  }
}

/** Runs `run`, then listens for `listenMs`, running again on each request; the last run's result. */
export async function listenForRequests(identity: DeviceIdentity, options: ProvisionOptions, deps: ProvisionDeps, listenMs: number, run: Run): Promise<ProvisionResult> {
  const settings = lifecycleSettings(options.lifecycle);
  const deadline = deps.now() + listenMs;
  let result = await run();
  let retries = 0;
  while (deps.now() < deadline) {
    const retrying = result.deferred !== undefined || result.pending !== undefined;
    retries = retrying ? retries + 1 : 0;
    const backoff = fullJitterDelay(retries, { baseMs: settings.retryBackoffMs, maxMs: settings.retryMaxBackoffMs }, deps.random ?? Math.random);
    const left = deadline - deps.now();
    let wake: Wake;
    try {
      wake = await waitForRequest(deps, identity.thingName, retrying ? Math.min(backoff, left) : left, retrying);
    } catch (error) {
      // The connection dropped or could not be opened: run again, which says what is wrong.
      deps.onEvent({ thingName: identity.thingName, step: 'verify', status: 'retry', error: toEventError(error), detail: { listening: 'connection lost' } });
      await (deps.sleep ?? timer)(Math.min(backoff, Math.max(0, deadline - deps.now())));
      wake = 'retry';
    }
    if (wake === 'done' || deps.now() >= deadline) break;
    result = await run();
  }
  return result;
}
