import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import { describeError } from '@global-iot/core/errors.js';
import type { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { DEFAULT_BOOTSTRAP_TIMING, realBootstrapClientDeps, requestBootstrap } from '@global-iot/device/bootstrap-client.js';
import { StepFailed } from '@global-iot/device/errors.js';
import { generateKeyAndCsr } from '@global-iot/device/keys.js';
import { createCrtTransport } from '@global-iot/device/mqtt.js';
import { parseEndpoint, type ProvisionEvent, provisionDevice } from '@global-iot/device/provision.js';
import { FileStore } from '@global-iot/device/store.js';
import { type Check, runCheck } from './check.js';
import { diagnoseConfirmation, diagnoseStep } from './diagnosis.js';
import type { RegionFacts } from './region-checks.js';

/**
 * One throwaway device through the real flow, with the device client library itself: enrolled
 * pinned to the region, then bootstrap, MQTT fleet provisioning with the hook, and the
 * confirmation, each step one check of the report. It returns what it created, for the clean-up.
 */

/** Every throwaway device's name starts so: nothing else is ever deleted by verify. */
export const THROWAWAY_PREFIX = 'verify-';

export interface ThrowawayDeps {
  readonly region: string;
  readonly config: DeploymentConfig;
  readonly facts: RegionFacts;
  readonly registry: DeviceRegistry;
  readonly bootstrapUrl: URL;
  readonly ca?: string;
  readonly claim: { readonly certificatePem: string; readonly privateKeyPem: string };
  readonly locate: (region: string, host: string) => { host: string; port: number };
  /** Where the device client keeps its files while it runs. */
  readonly workDir: string;
  readonly now: () => number;
  readonly connectTimeoutMs: number;
  readonly operationTimeoutMs: number;
  /** How long the registry may take to record the confirmation after AWS IoT acknowledged it. */
  readonly confirmTimeoutMs: number;
}

export interface ThrowawayRun {
  readonly thingName: string;
  readonly checks: Check[];
  /** Every certificate the run created in the region (a failed run may leave a pending one). */
  readonly certificateIds: string[];
}

/** The steps of the device client that talk to the cloud, in the report's words. */
const REPORTED_STEPS: Readonly<Record<string, string>> = {
  bootstrap: 'device: bootstrap',
  connect: 'device: claim session',
  'create-certificate': 'device: CreateCertificateFromCsr',
  'register-thing': 'device: RegisterThing (hook)',
  confirm: 'device: confirmation publish',
};

function stepCheck(event: ProvisionEvent, failure: unknown, deps: ThrowawayDeps): Check | undefined {
  const name = REPORTED_STEPS[event.step];
  if (name === undefined || (event.status !== 'ok' && event.status !== 'failed')) return undefined;
  const durationMs = Math.round(event.durationMs ?? 0);
  if (event.status === 'ok') {
    const facts = [...(event.region !== undefined ? [`region=${event.region}`] : []), ...Object.entries(event.detail ?? {}).map(([k, v]) => `${k}=${String(v)}`)];
    return { name, outcome: 'ok', durationMs, ...(facts.length > 0 ? { detail: facts.join(' ') } : {}) };
  }
  return {
    name,
    outcome: 'failed',
    durationMs,
    detail: event.error?.message ?? 'failed',
    diagnosis: diagnoseStep(event.step, failure, { config: deps.config, facts: deps.facts }),
  };
}

async function awaitConfirmation(deps: ThrowawayDeps, thingName: string, certificateId: string): Promise<string> {
  const deadline = performance.now() + deps.confirmTimeoutMs;
  for (;;) {
    const record = await deps.registry.get(thingName);
    if (record?.prov_status === 'provisioned' && record.certificate_id === certificateId) return `provisioned in ${record.aws_region ?? '?'}`;
    if (performance.now() > deadline) throw new Error(`still ${record?.prov_status ?? 'absent'} after ${deps.confirmTimeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function runThrowawayDevice(deps: ThrowawayDeps): Promise<ThrowawayRun> {
  const thingName = `${THROWAWAY_PREFIX}${deps.now()}-${deps.region}`;
  const checks: Check[] = [];
  const certificateIds: string[] = [];
  const signing = generateKeyPairSync('ed25519');
  const enrolled = await runCheck(
    'device: enrolled',
    async () => {
      await deps.registry.enroll({ thingName, publicKey: signing.publicKey.export({ type: 'spki', format: 'pem' }).toString(), pinnedRegion: deps.region });
      return thingName;
    },
    (error) => `cannot write the registry (${describeError(error)}): the operator's credentials (dynamodb:PutItem) or tableName/homeRegion`,
  );
  checks.push(enrolled);
  if (enrolled.outcome !== 'ok') return { thingName, checks, certificateIds };

  const events: ProvisionEvent[] = [];
  let failure: unknown;
  let certificateId: string | undefined;
  try {
    const result = await provisionDevice(
      { thingName, signingKey: signing.privateKey, claim: deps.claim },
      {
        certificateMode: 'csr',
        claimClientIdPrefix: deps.config.claimClientIdPrefix,
        confirmationRuleName: deps.config.confirmationRuleName,
        // One try, so that a denial is reported at once rather than after the device's back-offs.
        registerAttempts: 1,
        throttle: { attempts: 2, baseBackoffMs: 500, maxBackoffMs: 1_000 },
      },
      {
        store: new FileStore(join(deps.workDir, thingName)),
        // A region at its admission ceiling is waited for a minute at most, then reported.
        bootstrap: (makeBody) =>
          requestBootstrap(
            makeBody,
            { url: deps.bootstrapUrl, ...(deps.ca !== undefined ? { ca: deps.ca } : {}), ...DEFAULT_BOOTSTRAP_TIMING, maxAttempts: 2, maxQueueMs: 60_000 },
            realBootstrapClientDeps,
          ),
        transport: createCrtTransport({
          protocol: 'mqtt311',
          ...(deps.ca !== undefined ? { caPem: deps.ca } : {}),
          connectTimeoutMs: deps.connectTimeoutMs,
          operationTimeoutMs: deps.operationTimeoutMs,
        }),
        generateKeyAndCsr,
        now: deps.now,
        onEvent: (event) => {
          events.push(event);
          const created = event.step === 'create-certificate' && event.status === 'ok' ? event.detail?.['certificateId'] : undefined;
          if (typeof created === 'string') certificateIds.push(created.toLowerCase());
        },
        resolveEndpoint: (region, address) => ({ region, ...deps.locate(region, parseEndpoint(address, region, 8883).host) }),
      },
    );
    certificateId = result.certificateId;
  } catch (error) {
    failure = error instanceof StepFailed ? error : new StepFailed('unknown', error);
  }
  for (const event of events) {
    const check = stepCheck(event, failure, deps);
    if (check) checks.push(check);
  }
  if (failure === undefined && certificateId !== undefined) {
    const id = certificateId;
    checks.push(await runCheck('confirmation recorded', () => awaitConfirmation(deps, thingName, id), () => diagnoseConfirmation({ config: deps.config, facts: deps.facts })));
  }
  return { thingName, checks, certificateIds: [...new Set(certificateIds)] };
}
