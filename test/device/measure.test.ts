import { describe, expect, it } from 'vitest';
import { ProbeFailed } from '@global-iot/device/handshake-probe.js';
import { DEFAULT_MEASURE_SETTINGS, measureTargets, toFigure } from '@global-iot/device/measure.js';
import type { MqttTarget } from '@global-iot/device/mqtt.js';

/** Measuring the candidates with a scripted probe on a scripted clock: no network. */

const target = (region: string): MqttTarget => ({ region, host: `${region}.example.test`, port: 8883 });

describe('toFigure', () => {
  it.each([
    [0.3, 1, 'a loopback handshake is counted as the 1 ms the service accepts'],
    [23.4, 23.4, 'a tenth stays'],
    [23.41, 23.5, 'finer times round up: a region is never made to look faster'],
    [99.99, 100, 'up to the next tenth'],
    [12_000, 10_000, 'at most 10 s'],
  ])('%s ms -> %s ms (%s)', (ms, figure) => {
    // Act
    const result = toFigure(ms);

    // Assess
    expect(result).toBe(figure);
  });
});

describe('measureTargets', () => {
  it('keeps the fastest of each region\'s probes, probing each region the set number of times', async () => {
    // Prepare
    const script: Record<string, number[]> = { 'eu-central-1': [30.02, 22.5, 25], 'us-east-1': [95, 90.3, 97] };
    const calls: string[] = [];
    const probe = async (t: MqttTarget) => {
      calls.push(t.region);
      const next = script[t.region]?.shift();
      if (next === undefined) throw new Error('probed too often');
      return next;
    };

    // Act
    const outcome = await measureTargets([target('eu-central-1'), target('us-east-1')], DEFAULT_MEASURE_SETTINGS, { probe, now: () => 0 });

    // Assess
    expect(outcome).toEqual({ measurements: [{ region: 'eu-central-1', ms: 22.5 }, { region: 'us-east-1', ms: 90.3 }], unreached: [] });
    expect(calls.filter((r) => r === 'eu-central-1')).toHaveLength(3);
  });

  it('counts a region whose probes all fail as unreached, and one with a single success as measured', async () => {
    // Prepare
    let tries = 0;
    const probe = async (t: MqttTarget) => {
      if (t.region === 'sa-east-1') throw new ProbeFailed('connection refused');
      tries += 1;
      if (tries < 3) throw new ProbeFailed('reset');
      return 40;
    };

    // Act
    const outcome = await measureTargets([target('sa-east-1'), target('us-east-1')], DEFAULT_MEASURE_SETTINGS, { probe, now: () => 0 });

    // Assess
    expect(outcome).toEqual({ measurements: [{ region: 'us-east-1', ms: 40 }], unreached: ['sa-east-1'] });
  });

  it('gives each probe only the time left, and starts none after the deadline', async () => {
    // Prepare: each probe takes 60 ms of a 100 ms budget on a scripted clock.
    let clock = 0;
    const budgets: number[] = [];
    const probe = async (_t: MqttTarget, timeoutMs: number) => {
      budgets.push(timeoutMs);
      clock += 60;
      if (timeoutMs < 60) throw new ProbeFailed('no handshake in time');
      return 60;
    };

    // Act
    const outcome = await measureTargets([target('eu-central-1')], { enabled: true, probes: 5, timeoutMs: 100 }, { probe, now: () => clock });

    // Assess
    expect(budgets).toEqual([100, 40]);
    expect(outcome.measurements).toEqual([{ region: 'eu-central-1', ms: 60 }]);
  });
});
