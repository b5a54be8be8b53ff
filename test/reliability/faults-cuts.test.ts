import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditSystem, settleConfirmations } from './support/audit.js';
import { REGION_ADDRESSES, type ReliabilityCloud, startAuditedCloud } from './support/cloud.js';
import { CUT_POINTS, type DeviceEnvironment, type DeviceResult, type DeviceSpec } from './support/device.js';
import { runFleet } from './support/fleet.js';
import type { LogAudit } from './support/log-audit.js';
import { reliabilityScale } from './support/scale.js';

/**
 * Faults: the device loses its connection right after each step of the flow (the bootstrap
 * request sent, its answer read, the claim connection made, the certificate requested or
 * received, RegisterThing sent or answered, the new certificate connected), once, and then
 * carries on as firmware would. Every device must end provisioned exactly once: a lost
 * RegisterThing answer must neither provision twice nor leave a second ACTIVE certificate.
 */

const scale = reliabilityScale();
let audit: LogAudit;
let rc: ReliabilityCloud;
let env: DeviceEnvironment;
let closeCloud: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ audit, rc, env, close: closeCloud } = await startAuditedCloud());
});

afterAll(async () => {
  await closeCloud?.();
});

describe('a connection cut after each provisioning step', () => {
  let results: DeviceResult[];

  it('ends with every device provisioned exactly once', { timeout: 120_000 }, async () => {
    // Prepare
    const networks = Object.values(REGION_ADDRESSES);
    const specs: DeviceSpec[] = CUT_POINTS.flatMap((cutAfter, step) =>
      Array.from({ length: scale.cutDevicesPerStep }, (_, i) => ({
        thingName: `cut-${cutAfter}-${i}`,
        sourceIp: `${networks[(step + i) % networks.length] ?? '98.0.0'}.${i + 1}`,
        certificateMode: i % 2 === 0 ? ('keys' as const) : ('csr' as const),
        cutAfter,
      })),
    );
    await rc.enroll(specs.map((s) => s.thingName));

    // Act
    const run = await runFleet(env, specs, { concurrency: specs.length });
    results = run.results;
    await settleConfirmations(rc);
    const state = await auditSystem(rc, { results });

    // Assess
    expect(results.filter((r) => !r.ok).map((r) => `${r.thingName}: ${r.error ?? ''} ${r.trail.join(' | ')}`)).toEqual([]);
    expect(state.problems).toEqual([]);
    expect(state).toMatchObject({ provisioned: specs.length, awaitingConfirmation: 0, retryable: 0, orphanActiveCertificates: 0 });
    expect(results.every((r) => r.trail.some((t) => t.startsWith('cut after')))).toBe(true);
  });

  it('starts over where the cut loses the step, and never after RegisterThing was sent', async () => {
    // Prepare
    const of = (cut: string) => results.filter((r) => r.thingName.startsWith(`cut-${cut}-`));
    const bootstraps = (r: DeviceResult) => r.trail.filter((t) => /^r\d+: bootstrap /.test(t)).length;
    const records = new Map<string, number>();
    for await (const record of rc.registry.scan()) records.set(record.thing_name, record.provision_attempts ?? 0);

    // Act
    const attempts = results.map((r) => records.get(r.thingName));

    // Assess
    for (const cut of ['bootstrap-request', 'bootstrap-answer', 'claim-connect', 'create-answer']) expect(of(cut).every((r) => r.rounds >= 2)).toBe(true);
    // With RegisterThing sent, the device keeps its certificate until it knows: its next connection finds it ACTIVE.
    for (const cut of ['register-request', 'register-answer', 'device-connect']) expect(of(cut).map(bootstraps)).toEqual(of(cut).map(() => 1));
    expect(attempts).toEqual(results.map(() => 1));
  });

  it('writes no private key, ticket or signature into any log line', () => {
    // Prepare
    const lines = audit.lineCount();

    // Act
    const leaks = audit.violations();

    // Assess
    expect(lines).toBeGreaterThan(0);
    expect(leaks).toEqual([]);
  });
});
