import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '@global-iot/local/cloud.js';
import { fleetJobFor } from '@global-iot/local/fleet/demo.js';
import type { FleetRun } from '@global-iot/local/fleet/outcome.js';
import { runFleetJobInChild } from '@global-iot/local/fleet/spawn.js';
import { summarize } from '@global-iot/local/fleet/summary.js';
import { createLogger } from '@global-iot/local/log.js';
import { defaultProductConfig, productWiring } from '@global-iot/local/product.js';

/**
 * A fleet against AWS's quotas, through the device library (`@global-iot/device`, the flow the
 * CLI runs): 60 devices at once into three regions, with AWS's quotas but fleet provisioning
 * rates cut to 3 per second, so that the throttling does not depend on how fast this machine
 * brings the devices to the cloud. (A device's claim session and its own connection use
 * different client ids, so the CONNECT quota per client id no longer throttles the switch.)
 * The bootstrap's admission is off here (test/local/admission-burst.test.ts covers it), so the
 * quotas do throttle (the log shows it), and the devices' own back-off gets every one of them
 * through.
 */

const REGIONS = ['us-east-1', 'eu-central-1', 'ap-northeast-1'];
const DEVICES = 60;

let cloud: LocalCloud;
let workDir: string;
let run: FleetRun;
const logLines: string[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'quotas-fleet-'));
  const log = createLogger('info', (line) => logLines.push(line));
  cloud = await startLocalCloud({
    pkiDir: join(workDir, 'pki'),
    regions: REGIONS,
    demo: true,
    deviceKeyAlgorithm: 'ec-p256',
    awsQuotas: { createKeysAndCertificatePerSecond: 3, createCertificateFromCsrPerSecond: 3, registerThingPerSecond: 3 },
    log,
    // Without awsQuotas the default configuration leaves admission off.
    wire: productWiring({ keysDir: join(workDir, 'keys'), log, config: defaultProductConfig(REGIONS) }),
  });
  const job = fleetJobFor(cloud, {
    devices: DEVICES,
    concurrency: DEVICES,
    certificateMode: 'mixed',
    protocol: 'mqtt311',
    outDir: join(workDir, 'fleet'),
    prefix: 'quota',
    durable: false,
  });
  run = await runFleetJobInChild(job, { enrolled: () => undefined, progress: () => undefined });
}, 240_000);

afterAll(async () => {
  await cloud?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** What the cloud throttled: fleet provisioning requests and CONNECTs. */
function throttling(): { requests: number; connects: number } {
  const entries = logLines.map((line) => JSON.parse(line) as { message?: string; errorCode?: string });
  return {
    requests: entries.filter((e) => e.message === 'fleet provisioning' && e.errorCode === 'Throttled').length,
    connects: entries.filter((e) => e.message?.startsWith('connection refused: CONNECT rate') === true).length,
  };
}

describe('a fleet with the quotas on', () => {
  it('gets through, every device provisioned in one of the three regions, none failing', () => {
    // Act
    const summary = summarize(run);

    // Assess
    const failures = run.outcomes.filter((o) => !o.ok).map((o) => ({ thing: o.thingName, failure: o.failure }));
    expect(failures).toEqual([]);
    expect(summary).toMatchObject({ devices: DEVICES, provisioned: DEVICES, failed: 0 });
    expect(Object.keys(summary.perRegion).sort()).toEqual([...REGIONS].sort());
  });

  it('was throttled on the way: the quotas were in force', () => {
    // Act
    const seen = throttling();

    // Assess
    expect(seen.requests + seen.connects).toBeGreaterThan(0);
  });
});
