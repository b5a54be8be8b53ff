import { BootstrapRejected, StepFailed } from '../errors.js';
import { toEventError } from '../events.js';
import type { Flow } from '../flow/context.js';
import type { StepFacts } from '../flow/run-step.js';
import { type MeasureOutcome, measureTargets } from '../measure.js';
import type { MqttTarget } from '../mqtt.js';
import { type Assignment, bootstrap } from './bootstrap.js';

type Measuring = Pick<Flow, 'step' | 'report' | 'measure' | 'probeHandshake' | 'clock' | 'locate'> & Parameters<typeof bootstrap>[0];

function describeOutcome(outcome: MeasureOutcome): StepFacts {
  return {
    detail: {
      measured: outcome.measurements.length,
      ...(outcome.measurements.length > 0 ? { rtt: outcome.measurements.map((m) => `${m.region}=${m.ms}`).join(',') } : {}),
      ...(outcome.unreached.length > 0 ? { unreached: outcome.unreached.join(',') } : {}),
    },
  };
}

/** The candidates the device can reach, each where `locate` says (a candidate it cannot place is left out). */
function targetsOf(flow: Pick<Flow, 'locate'>, assignment: Assignment): MqttTarget[] {
  return (assignment.answer.candidates ?? []).flatMap((c) => {
    try {
      return [flow.locate(c.region, c.endpointAddress)];
    } catch {
      return [];
    }
  });
}

/**
 * Step `measure`: the TLS handshake time to each candidate of the first answer, then, with any
 * figure, a second bootstrap request carrying them (signed as v2), whose answer may name another
 * region. Measuring is an improvement, never a condition: off, nothing to choose between (a
 * pinned device, an old service), nothing reached, or figures the service refuses (400) all
 * leave the device with its first answer, whose ticket is still live.
 */
export async function measureAndAsk(flow: Measuring, first: Assignment): Promise<Assignment> {
  const targets = targetsOf(flow, first);
  if (!flow.measure.enabled || targets.length < 2) {
    const reason = !flow.measure.enabled ? 'off' : 'fewer than two candidates';
    flow.report({ step: 'measure', status: 'skipped', detail: { reason } });
    return first;
  }
  const outcome = await flow.step('measure', () => measureTargets(targets, flow.measure, { probe: flow.probeHandshake, now: flow.clock }), {
    describe: describeOutcome,
  });
  if (outcome.measurements.length === 0) return first;
  try {
    return await bootstrap(flow, { measurements: outcome.measurements });
  } catch (error) {
    const cause = error instanceof StepFailed ? error.cause : error;
    if (!(cause instanceof BootstrapRejected && cause.status === 400)) throw error;
    flow.report({ step: 'measure', status: 'retry', error: toEventError(error), detail: { kept: first.answer.region } });
    return first;
  }
}
