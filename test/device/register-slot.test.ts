import { describe, expect, it } from 'vitest';
import type { BootstrapAnswer } from '@global-iot/device/bootstrap-client.js';
import type { ProvisionEvent } from '@global-iot/device/events.js';
import { awaitRegisterSlot, CLOCK_AGREEMENT_MS, MAX_REGISTER_WAIT_MS, registerWaitMs } from '@global-iot/device/steps/await-register-slot.js';
import type { Assignment } from '@global-iot/device/steps/bootstrap.js';
import { bootstrapAnswer } from './support/answer.js';

/**
 * The RegisterThing time of a paced bootstrap answer: a device whose clock agrees with the
 * service's waits for the time itself; one whose clock is off waits the same span from the answer.
 */

const T = 1_800_000_000_000;

function answer(fields: Pick<BootstrapAnswer, 'registerAt' | 'serverTime'>): BootstrapAnswer {
  return bootstrapAnswer(fields, T);
}

describe('registerWaitMs', () => {
  it('waits until the named time on a clock that agrees, however late the answer arrived', () => {
    // Prepare: answered at T, the time is T + 900; the answer arrived 400 ms late (a busy network).
    const late = answer({ registerAt: T + 900, serverTime: T });

    // Act
    const onArrival = registerWaitMs(late, T + 400, T + 400);
    const afterCertificate = registerWaitMs(late, T + 400, T + 700);

    // Assess: the time itself, not 900 ms from the arrival.
    expect(onArrival).toBe(500);
    expect(afterCertificate).toBe(200);
  });

  it('waits the same span from the arrival on a clock that is off', () => {
    // Prepare: the device's clock is an hour behind the service's.
    const offset = -3_600_000;
    const paced = answer({ registerAt: T + 900, serverTime: T });

    // Act
    const wait = registerWaitMs(paced, T + offset, T + offset + 300);

    // Assess
    expect(wait).toBe(600);
  });

  it('takes a clock within the agreement as right, and one just past it as off', () => {
    // Prepare
    const paced = answer({ registerAt: T + 1_000, serverTime: T });
    const within = T - CLOCK_AGREEMENT_MS;
    const beyond = T - CLOCK_AGREEMENT_MS - 1;

    // Act + Assess: within, the absolute time (T + 1000 is 5 s + 1 s ahead of the device's clock).
    expect(registerWaitMs(paced, within, within)).toBe(CLOCK_AGREEMENT_MS + 1_000);
    expect(registerWaitMs(paced, beyond, beyond)).toBe(1_000);
  });

  it('does not wait without a time, for a time already past, or longer than the cap', () => {
    // Act + Assess
    expect(registerWaitMs(answer({}), T, T)).toBe(0);
    expect(registerWaitMs(answer({ registerAt: T - 50, serverTime: T - 100 }), T, T)).toBe(0);
    expect(registerWaitMs(answer({ registerAt: T + 10 * MAX_REGISTER_WAIT_MS, serverTime: T }), T, T)).toBe(MAX_REGISTER_WAIT_MS);
  });

  it('takes the arrival as the service time when the answer names none', () => {
    // Act + Assess
    expect(registerWaitMs(answer({ registerAt: T + 250 }), T, T + 100)).toBe(150);
  });
});

describe('awaitRegisterSlot', () => {
  function flow(now: number) {
    const waits: number[] = [];
    const events: Omit<ProvisionEvent, 'thingName'>[] = [];
    return { waits, events, flow: { now: () => now, sleep: async (ms: number) => void waits.push(ms), report: (e: Omit<ProvisionEvent, 'thingName'>) => void events.push(e) } };
  }
  const assignment = (a: BootstrapAnswer): Assignment => ({
    answer: a,
    receivedAt: T,
    target: { region: 'eu-west-1', host: 'iot.example.test', port: 8883 },
    bootstrapped: { version: 1, step: 'bootstrapped', thingName: 'sensor-1', region: 'eu-west-1', endpoint: 'iot.example.test', port: 8883, templateName: 'Fleet', updatedAt: new Date(T).toISOString() },
  });

  it('sleeps until the time and reports the wait', async () => {
    // Prepare
    const f = flow(T + 100);

    // Act
    await awaitRegisterSlot(f.flow, assignment(answer({ registerAt: T + 750, serverTime: T })));

    // Assess
    expect(f.waits).toEqual([650]);
    expect(f.events).toEqual([{ step: 'register-thing', status: 'wait', region: 'eu-west-1', detail: { waitMs: 650 } }]);
  });

  it('goes on at once, silently, without a time', async () => {
    // Prepare
    const f = flow(T);

    // Act
    await awaitRegisterSlot(f.flow, assignment(answer({})));

    // Assess
    expect(f.waits).toEqual([]);
    expect(f.events).toEqual([]);
  });
});
