import { AwsRejected, BootstrapRejected, BootstrapUnavailable, StepFailed } from './errors.js';

/** The flow's steps, in the order a first run takes them; events and errors name them. */
export const STEPS = [
  'load',
  'bootstrap',
  'measure',
  'connect',
  'create-certificate',
  'register-thing',
  'store',
  'confirm',
  'verify',
  'disconnect',
  // After the first boot (lifecycle/): a move or rotation, its new credentials stored beside the
  // current ones, the switch once the cloud confirmed it, and the acknowledgement in the shadow.
  'move',
  'rotate',
  'store-pending',
  'switch',
  'acknowledge',
  // `--listen`: waiting on the shadow's delta (start), and what ended the wait (ok).
  'listen',
] as const;
export type StepName = (typeof STEPS)[number];

/** What a failure looked like, with AWS's or the bootstrap's own words where there are some. */
export interface EventError {
  readonly name: string;
  readonly message: string;
  /** Bootstrap HTTP status, or AWS IoT's `statusCode`. */
  readonly status?: number;
  /** Bootstrap `code`, or AWS IoT's `errorCode`. */
  readonly code?: string;
}

export interface ProvisionEvent {
  readonly thingName: string;
  readonly step: StepName;
  /** `wait`: the step waits for its time (RegisterThing's, from the bootstrap answer) before it starts. */
  readonly status: 'start' | 'ok' | 'retry' | 'failed' | 'skipped' | 'wait';
  readonly durationMs?: number;
  readonly region?: string;
  /** Non-secret facts about the step (never a key or a ticket). */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
  readonly error?: EventError;
}

export function toEventError(error: unknown): EventError {
  const inner = error instanceof StepFailed && error.cause !== undefined ? error.cause : error;
  if (inner instanceof AwsRejected) {
    return {
      name: inner.name,
      message: inner.message,
      ...(inner.statusCode !== undefined ? { status: inner.statusCode } : {}),
      ...(inner.errorCode !== undefined ? { code: inner.errorCode } : {}),
    };
  }
  if (inner instanceof BootstrapRejected) return { name: inner.name, message: inner.message, status: inner.status, code: inner.code };
  if (inner instanceof BootstrapUnavailable) {
    return { name: inner.name, message: inner.message, ...(inner.lastStatus !== undefined ? { status: inner.lastStatus } : {}) };
  }
  if (inner instanceof Error) return { name: inner.name, message: inner.message };
  return { name: 'Error', message: String(inner) };
}
