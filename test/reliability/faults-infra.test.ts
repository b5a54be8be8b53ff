import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetJobFor } from '@global-iot/local/fleet/demo.js';
import { runFleetJobInChild } from '@global-iot/local/fleet/spawn.js';
import { auditSystem, settleConfirmations, type SystemAudit } from './support/audit.js';
import { REGION_ADDRESSES, type ReliabilityCloud, startAuditedCloud } from './support/cloud.js';
import { type DeviceEnvironment, type DeviceResult, type DeviceSpec, reconnect, runDevice } from './support/device.js';
import { runFleet } from './support/fleet.js';
import type { LogAudit } from './support/log-audit.js';
import { reliabilityScale } from './support/scale.js';

/**
 * Faults in the infrastructure, mid-run: dynalite (the registry) stopped and started again with
 * its data, and one region's MQTT endpoint stopped and started again. Devices already running
 * meet the fault wherever they are in the flow, and a few more start during it. Every device must
 * end provisioned exactly once; while the fault lasts nothing may be half-provisioned.
 */

const scale = reliabilityScale();
const OUTAGE_MS = 2_000;
/** Where RegisterThing is held in flight (a slow hook, still within IoT's 5 s) while the endpoint goes down. */
const SLOW_REGION = 'sa-east-1';
let audit: LogAudit;
let rc: ReliabilityCloud;
let env: DeviceEnvironment;
let closeCloud: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ audit, rc, env, close: closeCloud } = await startAuditedCloud({ persistent: true, slowHookRegion: SLOW_REGION }));
});

afterAll(async () => {
  await closeCloud?.();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function specs(prefix: string, count: number, network: (i: number) => string): DeviceSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    thingName: `${prefix}-${i}`,
    sourceIp: `${network(i)}.${(i % 250) + 1}`,
    certificateMode: i % 2 === 0 ? ('keys' as const) : ('csr' as const),
    keepCredentials: true,
  }));
}

const networks = Object.values(REGION_ADDRESSES);
const anywhere = (i: number) => networks[i % networks.length] ?? '98.0.0';

/**
 * Runs `main` devices; once a quarter of them are done (or after 3 s), applies the fault, starts
 * `during` more devices, and lifts the fault OUTAGE_MS later.
 */
async function runThroughFault(
  main: DeviceSpec[],
  during: DeviceSpec[],
  fault: { start: () => Promise<void>; stop: () => Promise<void> },
): Promise<DeviceResult[]> {
  await rc.enroll([...main, ...during].map((s) => s.thingName));
  let reached: () => void = () => undefined;
  const quarter = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const fleet = runFleet(env, main, {
    concurrency: Math.min(main.length, scale.name === 'full' ? 50 : 10),
    onProgress: (done) => {
      if (done >= main.length / 4) reached();
    },
  });
  await Promise.race([quarter, sleep(3_000)]);
  await fault.start();
  const late = Promise.all(during.map((spec) => runDevice(env, spec)));
  await sleep(OUTAGE_MS);
  await fault.stop();
  const [run, lateResults] = await Promise.all([fleet, late]);
  return [...run.results, ...lateResults];
}

/** Confirmations lost in the fault are made on the device's next connection, as the README says. */
async function nextBoot(results: readonly DeviceResult[]): Promise<{ state: SystemAudit; rebooted: number }> {
  const settled = await settleConfirmations(rc, 3_000);
  let rebooted = 0;
  if (settled.awaitingConfirmation > 0) {
    const records = new Map<string, string>();
    for await (const record of rc.registry.scan({ status: 'provisioning' })) records.set(record.thing_name, record.prov_status);
    for (const result of results.filter((r) => records.has(r.thingName))) {
      if (await reconnect(env, result)) rebooted++;
    }
    await settleConfirmations(rc, 10_000);
  }
  return { state: await auditSystem(rc, { results }), rebooted };
}

const failures = (results: readonly DeviceResult[]) => results.filter((r) => !r.ok).map((r) => `${r.thingName}: ${r.error ?? ''} ${r.trail.join(' | ')}`);

describe('dynalite stopped and started again mid-run', () => {
  it('ends with every device provisioned exactly once', { timeout: 180_000 }, async () => {
    // Prepare
    const main = specs('dynamo', scale.faultDevices, anywhere);
    const during = specs('dynamo-late', 3, anywhere);

    // Act
    const results = await runThroughFault(main, during, { start: () => rc.stopDynamo(), stop: () => rc.startDynamo() });
    const { state, rebooted } = await nextBoot(results);
    const refused = results.reduce((n, r) => n + (r.bootstrapRefusals['SERVICE_UNAVAILABLE'] ?? 0), 0);
    console.log(JSON.stringify({ fault: 'dynalite restart', devices: results.length, bootstrap503: refused, confirmedOnNextBoot: rebooted, maxProvisionAttempts: state.maxProvisionAttempts }));

    // Assess
    expect(failures(results)).toEqual([]);
    expect(state.problems).toEqual([]);
    expect(state).toMatchObject({ provisioned: results.length, awaitingConfirmation: 0, retryable: 0, orphanActiveCertificates: 0 });
    // The devices that started during the outage met it: the registry was unavailable to them.
    expect(during.length).toBeGreaterThan(0);
    expect(results.filter((r) => r.thingName.startsWith('dynamo-late-')).every((r) => r.rounds > 1)).toBe(true);
  });
});

describe("one region's MQTT endpoint stopped and started again mid-run", () => {
  it('ends with every device provisioned exactly once, some of them in a fallback region', { timeout: 180_000 }, async () => {
    // Prepare
    const region = 'eu-central-1';
    const main = specs('broker', scale.faultDevices, anywhere);
    const during = specs('broker-late', 3, () => REGION_ADDRESSES[region] ?? '');
    let stateDuring: SystemAudit | undefined;

    // Act
    const results = await runThroughFault(main, during, {
      start: () => rc.stopBroker(region),
      stop: async () => {
        stateDuring = await auditSystem(rc);
        await rc.startBroker(region);
      },
    });
    const { state } = await nextBoot(results);
    const late = results.filter((r) => r.thingName.startsWith('broker-late-'));
    console.log(JSON.stringify({ fault: 'broker stop', region, devices: results.length, lateDevicesElsewhere: late.filter((r) => r.region !== region).length }));

    // Assess
    expect(stateDuring?.problems).toEqual([]);
    expect(failures(results)).toEqual([]);
    expect(state.problems).toEqual([]);
    expect(state).toMatchObject({ provisioned: state.records, awaitingConfirmation: 0, retryable: 0, orphanActiveCertificates: 0 });
    expect(late.every((r) => r.unreachableRegions.includes(region))).toBe(true);
    // A device assigned but not yet let through by the hook moves on to its first fallback.
    expect(late.every((r) => r.region === 'us-east-1')).toBe(true);
  });
});

describe("the project's device client (device/, aws-crt) when its region's endpoint drops during RegisterThing", () => {
  let failed: number;
  let state: SystemAudit;

  it('ends with every device provisioned, registry and regions agreeing', { timeout: 180_000 }, async () => {
    // Prepare
    const outDir = mkdtempSync(join(tmpdir(), 'reliability-crt-'));
    const devices = scale.name === 'full' ? 60 : 24;
    const job = fleetJobFor(rc.cloud, { devices, concurrency: 12, certificateMode: 'mixed', protocol: 'mqtt311', outDir, prefix: 'crt', durable: false });
    let enrolled: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      enrolled = resolve;
    });
    // Long enough for the endpoint to go down under a RegisterThing, short of IoT's 5 s: the hook allows, and IoT commits.
    rc.setHookDelay(2_500);

    // Act
    const running = runFleetJobInChild(job, { enrolled: () => enrolled(), progress: () => undefined });
    await started;
    const deadline = Date.now() + 60_000;
    while (rc.slowHookCalls() === 0 && Date.now() < deadline) await sleep(50);
    await rc.stopBroker(SLOW_REGION);
    await sleep(OUTAGE_MS);
    rc.setHookDelay(0);
    await rc.startBroker(SLOW_REGION);
    const run = await running;
    rmSync(outDir, { recursive: true, force: true });
    await settleConfirmations(rc, 5_000);
    state = await auditSystem(rc);
    failed = run.outcomes.filter((o) => !o.ok).length;
    const notProvisioned: string[] = [];
    for await (const record of rc.registry.scan()) if (record.prov_status !== 'provisioned') notProvisioned.push(record.thing_name);
    console.log(JSON.stringify({ fault: 'device client, endpoint down under RegisterThing', devices, failed, orphanActiveCertificates: state.orphanActiveCertificates }));

    // Assess
    expect(rc.slowHookCalls()).toBeGreaterThan(0);
    expect(failed).toBe(0);
    expect(state.awaitingConfirmation).toBe(0);
    expect(notProvisioned).toEqual([]);
    expect(state.problems).toEqual([]);
  });

  // A RegisterThing whose answer is lost to a dropped connection used to be retried with a new
  // certificate, leaving the first ACTIVE on the thing; the device now tries the first one first.
  it('leaves no second ACTIVE certificate on any thing', () => {
    // Prepare
    const orphans = state.orphanActiveCertificates;

    // Act
    const problems = state.problems;

    // Assess
    expect(problems).toEqual([]);
    expect(orphans).toBe(0);
  });
});

describe('the log', () => {
  it('holds no private key, ticket or signature after the faults', () => {
    // Prepare
    const lines = audit.lineCount();

    // Act
    const leaks = audit.violations();

    // Assess
    expect(lines).toBeGreaterThan(0);
    expect(leaks).toEqual([]);
  });
});
