import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '@global-iot/core/registry/index.js';
import { drainResult, formatDrain, fullestRegion } from '@global-iot/local/fleet/drain.js';
import type { DeviceOutcome, FleetRun } from '@global-iot/local/fleet/outcome.js';

/** The drain scenario's account of each device, from the first run, the requests, the second boot and the registry. */

const device = (name: string, region: string, extra: Partial<DeviceOutcome> = {}): DeviceOutcome => ({ thingName: name, sourceIp: '8.8.8.8', ok: true, region, steps: {}, totalMs: 100, ...extra });
const run = (outcomes: DeviceOutcome[]): FleetRun => ({ outcomes, elapsedMs: 1, concurrency: 1 });
const CERT = 'a'.repeat(64);

function record(name: string, status: DeviceRecord['prov_status'], region: string, movedFrom?: string): DeviceRecord {
  return {
    thing_name: name,
    prov_status: status,
    aws_region: region,
    ...(movedFrom
      ? { history: [{ kind: 'move', from: movedFrom, to: region, at: '2026-12-03T10:00:00.000Z', why: 'drain', completedAt: '2026-12-03T10:00:01.500Z', toCertificate: CERT }] }
      : {}),
  };
}

describe('fullestRegion', () => {
  it('is the region with the most provisioned devices, the first by name on a tie', () => {
    expect(fullestRegion(run([device('a', 'us-east-1'), device('b', 'eu-central-1'), device('c', 'eu-central-1')]))).toBe('eu-central-1');
    expect(fullestRegion(run([device('a', 'us-east-1'), device('b', 'eu-central-1')]))).toBe('eu-central-1');
    expect(fullestRegion(run([device('a', 'us-east-1', { ok: false })]))).toBeUndefined();
  });
});

describe('drainResult', () => {
  it('counts a moved device, a skipped one (policy never) and one whose move did not finish', () => {
    // Prepare
    const first = run([device('moved', 'eu-central-1'), device('never', 'eu-central-1'), device('stuck', 'eu-central-1'), device('elsewhere', 'us-east-1')]);
    const second = run([device('moved', 'us-east-1', { result: 'moved', totalMs: 900 }), device('stuck', 'eu-central-1', { result: 'verified' })]);

    // Act
    const result = drainResult({
      region: 'eu-central-1',
      ratePerSecond: 5,
      firstRun: first,
      asked: [
        { thingName: 'moved', asked: { thingName: 'moved', outcome: 'requested', region: 'eu-central-1', id: 'm-1', shadow: 'written' } },
        { thingName: 'never', refused: 'thing never has reprovisioning policy never: it may not be moved', reason: 'policy-never' },
        { thingName: 'stuck', asked: { thingName: 'stuck', outcome: 'requested', region: 'eu-central-1', id: 'm-2', shadow: 'written' } },
      ],
      askElapsedMs: 400,
      secondBoot: second,
      records: new Map([
        ['moved', record('moved', 'provisioned', 'us-east-1', 'eu-central-1')],
        ['never', record('never', 'provisioned', 'eu-central-1')],
        ['stuck', record('stuck', 'moving', 'eu-central-1')],
      ]),
    });

    // Assess
    expect(result.devices.map((d) => [d.thingName, d.now, d.asked, d.boot])).toEqual([
      ['moved', 'us-east-1', 'requested', 'moved'],
      ['never', 'eu-central-1', 'skipped', undefined],
      ['stuck', 'eu-central-1', 'requested', 'verified'],
    ]);
    expect(result).toMatchObject({ moved: 1, stayed: 2, movedTo: { 'us-east-1': 1 }, moveMs: { p50: 1500, p99: 1500, max: 1500 }, bootMs: { p50: 900, p99: 900 }, movesPerSecond: 0.7 });
    expect(formatDrain(result)).toContain('1 moved (1 to us-east-1), 2 still in eu-central-1');
    expect(formatDrain(result)).toContain('stayed: never (provisioned; asked: skipped - thing never has reprovisioning policy never');
  });
});
