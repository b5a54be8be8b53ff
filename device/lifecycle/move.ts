import type { MoveRequestDoc } from '@global-iot/core/lifecycle/shadow-protocol.js';
import type { Flow } from '../flow/context.js';
import { MoveNotPossible } from '../errors.js';
import { type Assignment, assignmentOf } from '../steps/bootstrap.js';
import { connect } from '../steps/connect.js';
import { createCertificate } from '../steps/create-certificate.js';
import { disconnect } from '../steps/disconnect.js';
import { registerThing } from '../steps/register-thing.js';
import type { ConfirmedState, PendingCredentials } from '../store.js';
import { storePending } from './pending.js';

type Moving = Pick<
  Flow,
  | 'step'
  | 'report'
  | 'whileThrottled'
  | 'transport'
  | 'identity'
  | 'claimClientId'
  | 'certificateMode'
  | 'generateKeyAndCsr'
  | 'thingName'
  | 'parameters'
  | 'store'
  | 'now'
  | 'sleep'
  | 'requestBootstrap'
  | 'locate'
>;

/**
 * The bootstrap call of a move: the same signed request as on first boot, whose answer for a
 * device the registry has `moving` is the new region, its endpoint and template, and a ticket for
 * it. Unlike the first boot's, nothing is recorded: the device's state stays where it runs.
 */
function askWhereTo(flow: Moving, state: ConfirmedState): Promise<Assignment> {
  return flow.step(
    'bootstrap',
    async () => {
      const assignment = assignmentOf(flow, await flow.requestBootstrap());
      const { region } = assignment.target;
      if (region === state.region) throw new MoveNotPossible(`the bootstrap keeps the device in ${state.region}: the move is not (or no longer) registered`);
      return assignment;
    },
    { describe: ({ answer }) => ({ region: answer.region, detail: { kind: 'move', from: state.region } }) },
  );
}

/**
 * Phase one of a move on the device (README, "A move, in two phases"): a ticket for the new
 * region, the claim session there, a new certificate and RegisterThing, the new credentials
 * stored beside the current ones. The new region unreachable, the bootstrap refusing, the hook
 * denying: the step fails, nothing the device runs on has changed, and the caller carries on in
 * the old region. No fallback region is tried: a move goes where the operator sent it.
 */
export async function startMove(flow: Moving, state: ConfirmedState, request: MoveRequestDoc) {
  const assignment = await askWhereTo(flow, state);
  const region = assignment.target.region;
  const session = await connect(flow, assignment.target);
  try {
    const issued = await createCertificate(flow, session, region);
    const credentials = { certificatePem: issued.certificatePem, privateKeyPem: issued.privateKeyPem };
    const deviceConfiguration = await registerThing(flow, session, assignment, issued, credentials);
    const pending: PendingCredentials = {
      kind: 'move',
      requestId: request.id,
      certificateId: issued.certificateId,
      region,
      endpoint: assignment.target.host,
      port: assignment.target.port,
      templateName: assignment.answer.templateName,
      deviceConfiguration,
      storedAt: new Date(flow.now()).toISOString(),
    };
    return { state: await storePending(flow, state, pending, credentials), credentials };
  } finally {
    await disconnect(flow, session, region);
  }
}
