import {
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DescribeThingCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  type IoTClient,
  ListAttachedPoliciesCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import type { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { withAbortTimeout } from '@global-iot/core/timeout.js';
import { thingCertificates } from '../device-certificates.js';
import { errorName, RegionTimeout } from '../regional.js';
import { type Check, CheckFailed, runCheck } from './check.js';
import { THROWAWAY_PREFIX, type ThrowawayRun } from './throwaway-device.js';

/**
 * Removes everything the throwaway device created (its certificates with their policies and thing
 * attachment, its thing, its registry record), then checks that nothing of it is left. Only ever
 * a `verify-` thing.
 */

export interface CleanupDeps {
  readonly region: string;
  readonly iot: IoTClient;
  readonly registry: DeviceRegistry;
  readonly timeoutMs: number;
  /** Waits between tries of a deletion AWS refuses while a detachment is still spreading. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** DetachThingPrincipal is eventually consistent on AWS: a deletion right after it may be refused a moment. */
const DELETE_TRIES = 5;
const DELETE_RETRY_MS = 1_000;

function call<T>(deps: CleanupDeps, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return withAbortTimeout(run, deps.timeoutMs, () => new RegionTimeout(`no answer within ${deps.timeoutMs} ms`));
}

async function absent(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run();
    return false;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return true;
    throw error;
  }
}

async function withRetries(deps: CleanupDeps, run: () => Promise<unknown>): Promise<void> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      await run();
      return;
    } catch (error) {
      const conflict = errorName(error) === 'DeleteConflictException' || errorName(error) === 'InvalidRequestException';
      if (!conflict || attempt >= DELETE_TRIES) throw error;
      await sleep(DELETE_RETRY_MS);
    }
  }
}

/** One certificate: out of use, its policies and thing detached, deleted. */
async function removeCertificate(deps: CleanupDeps, thingName: string, certificateId: string): Promise<boolean> {
  let arn: string | undefined;
  let status: string | undefined;
  try {
    const out = await call(deps, (signal) => deps.iot.send(new DescribeCertificateCommand({ certificateId }), { abortSignal: signal }));
    arn = out.certificateDescription?.certificateArn;
    status = out.certificateDescription?.status;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return false;
    throw error;
  }
  const target = arn ?? '';
  if (status === 'ACTIVE' || status === 'PENDING_ACTIVATION') {
    await call(deps, (signal) => deps.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }), { abortSignal: signal }));
  }
  const attached = await call(deps, (signal) => deps.iot.send(new ListAttachedPoliciesCommand({ target }), { abortSignal: signal }));
  for (const policy of attached.policies ?? []) {
    await call(deps, (signal) => deps.iot.send(new DetachPolicyCommand({ policyName: policy.policyName ?? '', target }), { abortSignal: signal }));
  }
  // A thing that is gone has nothing attached: that is done too.
  await absent(() => call(deps, (signal) => deps.iot.send(new DetachThingPrincipalCommand({ thingName, principal: target }), { abortSignal: signal })));
  await withRetries(deps, () => call(deps, (signal) => deps.iot.send(new DeleteCertificateCommand({ certificateId }), { abortSignal: signal })));
  return true;
}

async function removeEverything(deps: CleanupDeps, run: ThrowawayRun): Promise<string> {
  const { thingName } = run;
  if (!thingName.startsWith(THROWAWAY_PREFIX)) throw new Error(`refusing to remove ${thingName}: not a throwaway device`);
  const attached = await withAbortTimeout((signal) => thingCertificates(deps.iot, thingName, signal), deps.timeoutMs, () => new RegionTimeout('no answer'));
  const ids = [...new Set([...run.certificateIds, ...attached.map((c) => c.certificateId)])];
  let certificates = 0;
  for (const id of ids) if (await removeCertificate(deps, thingName, id)) certificates++;
  const thingExisted = !(await absent(() => call(deps, (signal) => deps.iot.send(new DescribeThingCommand({ thingName }), { abortSignal: signal }))));
  if (thingExisted) await withRetries(deps, () => call(deps, (signal) => deps.iot.send(new DeleteThingCommand({ thingName }), { abortSignal: signal })));
  const recorded = await deps.registry.remove(thingName);
  return `${certificates} certificate(s), ${thingExisted ? 'the thing' : 'no thing'}, ${recorded ? 'the registry record' : 'no registry record'}`;
}

async function leftBehind(deps: CleanupDeps, run: ThrowawayRun): Promise<string> {
  const left: string[] = [];
  if (!(await absent(() => call(deps, (signal) => deps.iot.send(new DescribeThingCommand({ thingName: run.thingName }), { abortSignal: signal }))))) left.push('the thing');
  for (const certificateId of run.certificateIds) {
    if (!(await absent(() => call(deps, (signal) => deps.iot.send(new DescribeCertificateCommand({ certificateId }), { abortSignal: signal }))))) left.push(`certificate ${certificateId}`);
  }
  if ((await deps.registry.get(run.thingName)) !== undefined) left.push('the registry record');
  if (left.length > 0) throw new CheckFailed(`left: ${left.join(', ')}`, `remove them by hand (the thing is ${run.thingName})`);
  return 'nothing';
}

export async function cleanUp(deps: CleanupDeps, run: ThrowawayRun): Promise<Check[]> {
  const removed = await runCheck(
    'clean-up',
    () => removeEverything(deps, run),
    () => `the operator's credentials may not delete what verify created (iot:UpdateCertificate, iot:DetachPolicy, iot:DetachThingPrincipal, iot:DeleteCertificate, iot:DeleteThing, dynamodb:DeleteItem); ${run.thingName} is left`,
  );
  const left = await runCheck('nothing left behind', () => leftBehind(deps, run), () => `cannot tell: ${run.thingName} may be left`);
  return [removed, left];
}
