import { fullJitterDelay } from '@global-iot/core/backoff.js';
import { AwsRejected, MqttRequestFailed, StepFailed } from '../errors.js';
import { toEventError } from '../events.js';
import type { Flow } from './context.js';
import { register, type Registered } from './registration.js';

const MAX_REGISTER_BACKOFF_MS = 30_000;

/**
 * Failures of certificate creation or RegisterThing that another registration may not have: no
 * answer, AWS-side errors, throttling that outlasted its own retries (throttle.ts; the fresh
 * bootstrap call may send the device elsewhere), and access denied. A denial is never sent again
 * as it was: AWS IoT reports a hook that errs or times out as access denied too, so the
 * registration starts over from the bootstrap, which refuses a device that is really denied
 * (blocked) and ends the tries. A malformed request (400) or a missing template (404) fails
 * the same way every time.
 */
export function isRetryableRegistration(error: unknown): boolean {
  if (!(error instanceof StepFailed) || (error.step !== 'create-certificate' && error.step !== 'register-thing')) return false;
  const cause = error.cause;
  if (cause instanceof MqttRequestFailed) return true;
  if (!(cause instanceof AwsRejected)) return false;
  const status = cause.statusCode;
  return status === undefined || status === 403 || status === 429 || status >= 500;
}

/** The registration, tried again while it fails in a way another try may not. */
export async function registerWithRetries(flow: Flow): Promise<Registered> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await register(flow);
    } catch (error) {
      if (attempt >= flow.registerAttempts || !isRetryableRegistration(error) || !(error instanceof StepFailed)) throw error;
      const delayMs = fullJitterDelay(attempt, { baseMs: flow.registerBackoffMs, maxMs: MAX_REGISTER_BACKOFF_MS }, flow.random);
      const step = error.step === 'create-certificate' ? 'create-certificate' : 'register-thing';
      flow.report({ step, status: 'retry', error: toEventError(error), detail: { attempt, delayMs } });
      await flow.sleep(delayMs);
    }
  }
}
