import { fullJitterDelay } from '@global-iot/core/backoff.js';
import { AwsRejected, MqttConnectFailed } from './errors.js';

/**
 * AWS IoT's quotas, met where they bite: fleet provisioning's requests per second per region
 * (CreateKeysAndCertificate 10, CreateCertificateFromCsr 20, RegisterThing 10 by default) and
 * one CONNECT per second per client id. A request AWS throttles is sent again on the same
 * connection, a refused CONNECT tried again at the same endpoint, after an exponential back-off
 * with full jitter, so that a fleet throttled together comes back spread out. Nothing else is
 * retried here: a hook's denial (403) is not throttling, and what the flow does with it is the
 * registration's decision (flow/retry.ts).
 */

export interface ThrottlePolicy {
  /** Tries of one throttled request or CONNECT, the first included. */
  readonly attempts: number;
  /** First back-off ceiling, in milliseconds; doubles with each retry. */
  readonly baseBackoffMs: number;
  /** Largest back-off ceiling, in milliseconds. */
  readonly maxBackoffMs: number;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = { attempts: 5, baseBackoffMs: 1_000, maxBackoffMs: 20_000 };

/**
 * The shortest wait after a refused CONNECT: AWS IoT accepts one CONNECT per second per client
 * id, and the refused attempt may have counted as that second's.
 */
export const CONNECT_QUOTA_INTERVAL_MS = 1_000;

/**
 * A throttled answer: AWS IoT's rejection with status 429 (or an error code that says so), or a
 * CONNECT the server refused as throttled or ended without a reason (MQTT 3.1.1 has no code for
 * throttling). Anything else, a 403 included, is not.
 */
export function isThrottled(error: unknown): boolean {
  if (error instanceof AwsRejected) return error.statusCode === 429 || /^throttl/i.test(error.errorCode ?? '');
  if (error instanceof MqttConnectFailed) return error.kind === 'throttled' || error.kind === 'ended';
  return false;
}

/** The wait before the retry that follows a throttled `attempt` (1 for the first). */
export function throttleDelay(error: unknown, attempt: number, policy: ThrottlePolicy, random: () => number): number {
  const jittered = fullJitterDelay(attempt, { baseMs: policy.baseBackoffMs, maxMs: policy.maxBackoffMs }, random);
  return error instanceof MqttConnectFailed ? Math.max(jittered, CONNECT_QUOTA_INTERVAL_MS) : jittered;
}

export interface ThrottleRetry {
  readonly policy: ThrottlePolicy;
  readonly sleep: (ms: number) => Promise<void>;
  /** Uniform in [0, 1): the jitter. */
  readonly random: () => number;
  /** Told before each wait, so the flow can report it. */
  readonly onRetry: (retry: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** Runs `request`, and again after a back-off while it is throttled, up to the policy's attempts. */
export async function whileThrottled<T>(request: () => Promise<T>, retry: ThrottleRetry): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await request();
    } catch (error) {
      if (attempt >= retry.policy.attempts || !isThrottled(error)) throw error;
      const delayMs = throttleDelay(error, attempt, retry.policy, retry.random);
      retry.onRetry({ attempt, delayMs, error });
      await retry.sleep(delayMs);
    }
  }
}
