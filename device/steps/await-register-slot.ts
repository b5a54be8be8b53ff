import type { Flow } from '../flow/context.js';
import type { Assignment } from './bootstrap.js';

/** A device clock within this of the service's is taken as right, and the answer's time is kept to the millisecond. */
export const CLOCK_AGREEMENT_MS = 5_000;
/** The longest wait an answer can set: more is a service's mistake, not a reason to hold a device. */
export const MAX_REGISTER_WAIT_MS = 60_000;

/**
 * How long to wait before RegisterThing for the time the bootstrap answer names (`registerAt`,
 * the service's clock). A device whose clock agrees with the service's (`serverTime` at the
 * answer's arrival, within CLOCK_AGREEMENT_MS) waits for that time itself, which keeps the
 * region's devices apart even when their answers arrived together; one whose clock is further
 * off waits the same span from the answer's arrival. No time, or one already past: no wait.
 */
export function registerWaitMs(answer: Assignment['answer'], receivedAt: number, now: number): number {
  if (answer.registerAt === undefined) return 0;
  const serverTime = answer.serverTime ?? receivedAt;
  const agrees = Math.abs(serverTime - receivedAt) <= CLOCK_AGREEMENT_MS;
  const due = agrees ? answer.registerAt : receivedAt + (answer.registerAt - serverTime);
  return Math.min(MAX_REGISTER_WAIT_MS, Math.max(0, due - now));
}

/**
 * Before RegisterThing: waits for the time the answer gave this device in its region's line
 * (bootstrap admission pacing), so that a burst of devices reaches AWS IoT's RegisterThing quota
 * evenly spaced rather than throttled. The wait is reported; a device with no time goes on at once.
 */
export async function awaitRegisterSlot(flow: Pick<Flow, 'now' | 'sleep' | 'report'>, assignment: Assignment): Promise<void> {
  const waitMs = registerWaitMs(assignment.answer, assignment.receivedAt, flow.now());
  if (waitMs === 0) return;
  flow.report({ step: 'register-thing', status: 'wait', region: assignment.target.region, detail: { waitMs } });
  await flow.sleep(waitMs);
}
