import { toEventError } from '../events.js';
import type { Flow } from '../flow/context.js';
import type { IdentitySession } from '../mqtt.js';

/**
 * Step `disconnect`: closes the claim session. The credentials are already safe (or the step's
 * own failure is on its way up), so a failed disconnect is reported, not fatal.
 */
export async function disconnect(flow: Pick<Flow, 'report'>, session: IdentitySession, region: string): Promise<void> {
  await session.close().catch((error: unknown) => {
    flow.report({ step: 'disconnect', status: 'failed', region, error: toEventError(error) });
  });
}
