import { performance } from 'node:perf_hooks';
import { describeError } from '@global-iot/core/errors.js';

/**
 * One line of `iot-ops verify`'s report: what was checked, how it went, how long it took, and on
 * failure what the operator most likely has to fix.
 */

export type CheckOutcome = 'ok' | 'failed' | 'skipped';

export interface Check {
  readonly name: string;
  readonly outcome: CheckOutcome;
  readonly durationMs: number;
  /** What was found, or the error as received. */
  readonly detail?: string;
  /** On failure: the likely cause, in the operator's terms. */
  readonly diagnosis?: string;
}

/** A check that found something wrong: the message is what it found, `diagnosis` the likely cause. */
export class CheckFailed extends Error {
  override name = 'CheckFailed';
  constructor(
    message: string,
    readonly diagnosis: string,
  ) {
    super(message);
  }
}

/** A check that cannot be made here (IAM on the local cloud); says why. */
export class CheckSkipped extends Error {
  override name = 'CheckSkipped';
}

/**
 * Runs one check: `run` resolves to what it found (or throws CheckFailed / CheckSkipped); any
 * other error is a failure that `diagnose` explains.
 */
export async function runCheck(name: string, run: () => Promise<string | undefined>, diagnose: (error: unknown) => string): Promise<Check> {
  const started = performance.now();
  const took = () => Math.round(performance.now() - started);
  try {
    const detail = await run();
    return { name, outcome: 'ok', durationMs: took(), ...(detail !== undefined ? { detail } : {}) };
  } catch (error) {
    if (error instanceof CheckSkipped) return { name, outcome: 'skipped', durationMs: took(), detail: error.message };
    if (error instanceof CheckFailed) return { name, outcome: 'failed', durationMs: took(), detail: error.message, diagnosis: error.diagnosis };
    return { name, outcome: 'failed', durationMs: took(), detail: describeError(error), diagnosis: diagnose(error) };
  }
}
