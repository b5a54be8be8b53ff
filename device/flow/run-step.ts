import { StepFailed } from '../errors.js';
import { type ProvisionEvent, type StepName, toEventError } from '../events.js';

/** Facts a step reports when it succeeds (never a key or a ticket). */
export interface StepFacts {
  readonly region?: string;
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export interface StepOptions<T> {
  /** The region the step talks to, when it is known before the step runs. */
  readonly region?: string;
  readonly describe?: (value: T) => StepFacts;
}

/** Runs one step: start, then ok or failed, with its duration; a failure always names its step. */
export type RunStep = <T>(name: StepName, run: () => Promise<T>, options?: StepOptions<T>) => Promise<T>;

export interface StepReporting {
  readonly now: () => number;
  readonly onEvent: (event: ProvisionEvent) => void;
  readonly afterStep?: (step: StepName) => void | Promise<void>;
}

export function stepRunner(thingName: string, reporting: StepReporting): RunStep {
  return async (name, run, options = {}) => {
    const region = options.region !== undefined ? { region: options.region } : {};
    const at = reporting.now();
    reporting.onEvent({ thingName, step: name, status: 'start', ...region });
    let value: Awaited<ReturnType<typeof run>>;
    try {
      value = await run();
    } catch (error) {
      const failed = error instanceof StepFailed ? error : new StepFailed(name, error);
      reporting.onEvent({ thingName, step: name, status: 'failed', durationMs: reporting.now() - at, ...region, error: toEventError(failed) });
      throw failed;
    }
    reporting.onEvent({ thingName, step: name, status: 'ok', durationMs: reporting.now() - at, ...region, ...options.describe?.(value) });
    // After the step's own writes: a crash here leaves exactly what the step committed.
    await reporting.afterStep?.(name);
    return value;
  };
}
