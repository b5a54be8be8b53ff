import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { IoTClient } from '@aws-sdk/client-iot';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { DeploymentConfig } from '@global-iot/core/config.js';
import type { DeviceRegistry } from '@global-iot/core/registry/index.js';
import type { Check } from './check.js';
import { cleanUp } from './cleanup.js';
import { regionChecks } from './region-checks.js';
import { runThrowawayDevice } from './throwaway-device.js';

/**
 * `iot-ops verify`: per region, what the control plane can tell (regionChecks), then one throwaway
 * device through the real flow (runThrowawayDevice), then everything it created removed again
 * (cleanUp). Regions run at once; each gets its own report.
 */

export interface VerifyDeps {
  readonly config: DeploymentConfig;
  readonly regions: readonly string[];
  readonly iot: (region: string) => IoTClient;
  readonly lambda: (region: string) => LambdaClient;
  /** Absent on the local cloud, which does not emulate IAM. */
  readonly iam?: IAMClient;
  readonly registry: DeviceRegistry;
  readonly claim: { readonly certificatePem: string; readonly privateKeyPem: string; readonly certificateId: string };
  readonly claimPolicyName: string;
  readonly bootstrapUrl: URL;
  readonly ca?: string;
  /** Where a region's data endpoint is reached (its name, or the local cloud's port for it). */
  readonly locate: (region: string, host: string) => { host: string; port: number };
  readonly now: () => number;
  /** Budget of each control-plane call and each TLS handshake. */
  readonly timeoutMs: number;
  readonly confirmTimeoutMs: number;
}

export interface RegionReport {
  readonly region: string;
  /** Every check passed (or could not be made here). */
  readonly ok: boolean;
  readonly checks: Check[];
}

export async function verifyRegion(deps: VerifyDeps, region: string): Promise<RegionReport> {
  const iot = deps.iot(region);
  const { checks, facts } = await regionChecks({
    region,
    config: deps.config,
    iot,
    lambda: deps.lambda(region),
    ...(deps.iam ? { iam: deps.iam } : {}),
    claimCertificateId: deps.claim.certificateId,
    claimPolicyName: deps.claimPolicyName,
    claim: deps.claim,
    ...(deps.ca !== undefined ? { ca: deps.ca } : {}),
    locate: deps.locate,
    timeoutMs: deps.timeoutMs,
  });
  const workDir = mkdtempSync(join(tmpdir(), 'iot-ops-verify-'));
  try {
    const run = await runThrowawayDevice({
      region,
      config: deps.config,
      facts,
      registry: deps.registry,
      bootstrapUrl: deps.bootstrapUrl,
      ...(deps.ca !== undefined ? { ca: deps.ca } : {}),
      claim: deps.claim,
      locate: deps.locate,
      workDir,
      now: deps.now,
      connectTimeoutMs: deps.timeoutMs,
      operationTimeoutMs: deps.timeoutMs,
      confirmTimeoutMs: deps.confirmTimeoutMs,
    });
    checks.push(...run.checks, ...(await cleanUp({ region, iot, registry: deps.registry, timeoutMs: deps.timeoutMs }, run)));
  } finally {
    // The throwaway device's key and certificate, on this machine.
    rmSync(workDir, { recursive: true, force: true });
  }
  return { region, ok: checks.every((c) => c.outcome !== 'failed'), checks };
}

export function verifyDeployment(deps: VerifyDeps): Promise<RegionReport[]> {
  return Promise.all(deps.regions.map((region) => verifyRegion(deps, region)));
}
