import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProvisionEvent } from '@global-iot/device/provision.js';
import { type ProductCloud, startProductCloud } from './support/cloud.js';
import { enrollDevice, runDevice } from './support/device.js';

/**
 * The measured choice end to end: the real device client measures the TLS handshake to each
 * candidate of the first answer, through the local cloud whose region endpoints are delayed
 * (`regionDelaysMs`), sends the figures signed in a second request, and provisions where the
 * bootstrap then sends it. Delays are far above loopback noise, so the outcome is certain.
 */

// Frankfurt: eu-central-1 by the model; us-east-1 and ap-northeast-1 are its other candidates.
const FRANKFURT = '194.25.0.10';
const REGIONS = ['eu-central-1', 'us-east-1', 'ap-northeast-1'];
const DELAY_MS = 150;

function okSteps(events: readonly ProvisionEvent[]): string[] {
  return events.filter((e) => e.status === 'ok').map((e) => e.step);
}

function measured(events: readonly ProvisionEvent[]): Record<string, number> {
  const rtt = events.find((e) => e.step === 'measure' && e.status === 'ok')?.detail?.['rtt'];
  return Object.fromEntries(
    String(rtt ?? '')
      .split(',')
      .filter(Boolean)
      .map((pair) => {
        const [region = '', ms = ''] = pair.split('=');
        return [region, Number(ms)];
      }),
  );
}

describe('a delayed nearest region', () => {
  let cloud: ProductCloud;
  beforeAll(async () => {
    cloud = await startProductCloud(REGIONS, { regionDelaysMs: { 'eu-central-1': DELAY_MS } });
  });
  afterAll(async () => {
    await cloud?.close();
  });

  it('loses to a faster candidate: the device measures, asks again and provisions there', async () => {
    // Prepare
    const device = await enrollDevice(cloud, 'measured-moved', FRANKFURT);

    // Act
    const { result, events } = await runDevice(cloud, device);

    // Assess
    expect(okSteps(events)).toEqual(['load', 'bootstrap', 'measure', 'bootstrap', 'connect', 'create-certificate', 'register-thing', 'store', 'confirm']);
    const bootstraps = events.filter((e) => e.step === 'bootstrap' && e.status === 'ok');
    expect(bootstraps[0]).toMatchObject({ region: 'eu-central-1', detail: { placement: 'model' } });
    expect(bootstraps[1]?.detail?.['placement']).toBe('measured');
    expect(result.region).not.toBe('eu-central-1');
    expect(bootstraps[1]?.region).toBe(result.region);
    const figures = measured(events);
    expect(Object.keys(figures).sort()).toEqual([...REGIONS].sort());
    expect(figures['eu-central-1']).toBeGreaterThanOrEqual(DELAY_MS);
    const record = await cloud.registry.get(device.thingName);
    expect(record).toMatchObject({ aws_region: result.region, placement: 'measured' });
    expect(record?.rtt_ms).toEqual(figures);
    expect(cloud.cloud.region(result.region).state.getThing(device.thingName)).toBeDefined();
  });

  it('keeps the model region for a device that does not measure', async () => {
    // Prepare
    const device = await enrollDevice(cloud, 'measured-off', FRANKFURT);

    // Act
    const { result, events } = await runDevice(cloud, device, { measure: { enabled: false } });

    // Assess
    expect(result.region).toBe('eu-central-1');
    expect(events.find((e) => e.step === 'measure')).toMatchObject({ status: 'skipped', detail: { reason: 'off' } });
    expect(await cloud.registry.get(device.thingName)).toMatchObject({ aws_region: 'eu-central-1', placement: 'model' });
  });
});

describe('delayed regions other than the nearest', () => {
  let cloud: ProductCloud;
  beforeAll(async () => {
    cloud = await startProductCloud(REGIONS, { regionDelaysMs: { 'us-east-1': DELAY_MS, 'ap-northeast-1': DELAY_MS } });
  });
  afterAll(async () => {
    await cloud?.close();
  });

  it('leave the device in the model region, with its figures recorded', async () => {
    // Prepare
    const device = await enrollDevice(cloud, 'measured-kept', FRANKFURT);

    // Act
    const { result, events } = await runDevice(cloud, device);

    // Assess
    expect(result.region).toBe('eu-central-1');
    const figures = measured(events);
    expect(figures['us-east-1']).toBeGreaterThanOrEqual(DELAY_MS);
    expect(figures['ap-northeast-1']).toBeGreaterThanOrEqual(DELAY_MS);
    expect(await cloud.registry.get(device.thingName)).toMatchObject({ aws_region: 'eu-central-1', placement: 'model', rtt_ms: figures });
  });
});
