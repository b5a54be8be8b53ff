import { AwsRejected, MqttRequestFailed, StepFailed } from '../errors.js';
import { toEventError } from '../events.js';
import type { Flow } from './context.js';
import { register, type Registered } from './registration.js';

const MAX_REGISTER_BACKOFF_MS = 30_000;

/**
 * Failures of certificate creation or RegisterThing that another try may not have: no answer,
 * throttling, AWS-side errors, and access denied (what a failing or slow hook looks like).
 * A malformed request (400) or a missing template (404) fails the same way every time.
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
      const ceiling = Math.min(MAX_REGISTER_BACKOFF_MS, flow.registerBackoffMs * 2 ** (attempt - 1));
      const delayMs = Math.floor(flow.random() * ceiling);
      const step = error.step === 'create-certificate' ? 'create-certificate' : 'register-thing';
      flow.report({ step, status: 'retry', error: toEventError(error), detail: { attempt, delayMs } });
      await flow.sleep(delayMs);
    }
  }
}
