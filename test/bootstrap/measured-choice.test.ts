import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Measurement } from '@global-iot/core/measurements.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { verifyTicket } from '@global-iot/core/ticket.js';
import { type Harness, httpApiEvent, makeHarness, parseAnswer } from '../helpers/bootstrap.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * The measured choice through the bootstrap handler against dynalite: the first answer lists the
 * candidates, a second request carries signed handshake times, the bootstrap decides with the
 * margin rule and records the figures. Figures never take a device past residency or draining.
 */

let t: TestRegistry;
beforeAll(async () => {
  t = await startTestRegistry();
});
afterAll(async () => {
  await t.close();
});

/** Frankfurt: eu-central-1 by the model, other European regions next. */
const FRANKFURT = { lat: 50.11, lon: 8.68, country: 'DE' };
/** A public address, so that the bootstrap looks it up (the harness's lookup answers FRANKFURT). */
const SOURCE = { sourceIp: '81.169.145.1' };

let counter = 0;
async function enrolled(options: { pinnedRegion?: string } = {}): Promise<string> {
  const name = `measured-${++counter}`;
  await t.registry.enroll({ thingName: name, ...options });
  return name;
}

function harness(config: Parameters<typeof makeHarness>[0]['config'] = {}, at = FRANKFURT): Harness {
  return makeHarness({ registry: t.registry, now: () => t.clock.now, config, geo: { lookup: () => at } });
}

interface Answer {
  region: string;
  placement: string;
  ticket: string;
  fallbacks: { region: string; endpointAddress: string }[];
  candidates: { region: string; endpointAddress: string }[];
}

async function ask(h: Harness, name: string, measurements: Measurement[] = [], ts = ++t.clock.now) {
  const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, ts, measurements), SOURCE));
  return { status: res.statusCode, body: parseAnswer(res), answer: parseAnswer(res) as unknown as Answer };
}

/** Signed over the figures as sent where they can be written as v2 text, so that only they are wrong. */
function bodyWith(h: Harness, name: string, ts: number, sent: unknown[]): Record<string, unknown> {
  let signature: string;
  try {
    signature = signedBootstrapRequest(h.fleetKey, name, ts, sent as Measurement[])['thing-name-sig'];
  } catch {
    signature = signedBootstrapRequest(h.fleetKey, name, ts)['thing-name-sig'];
  }
  return { 'thing-name': name, 'thing-name-sig': signature, timestamp: ts, measurements: sent };
}

describe('the first answer', () => {
  it('lists the candidate regions with their endpoints: its region, then its fallbacks', async () => {
    // Prepare
    const name = await enrolled();
    const h = harness();

    // Act
    const { status, answer } = await ask(h, name);

    // Assess
    expect(status).toBe(200);
    expect(answer.region).toBe('eu-central-1');
    expect(answer.placement).toBe('model');
    expect(answer.candidates.map((c) => c.region)).toEqual([answer.region, ...answer.fallbacks.map((f) => f.region)]);
    expect(answer.candidates).toHaveLength(3);
    for (const c of answer.candidates) expect(c.endpointAddress).toBe(`abc123-ats.iot.${c.region}.amazonaws.com`);
    const record = await t.registry.get(name);
    expect(record).toMatchObject({ prov_status: 'assigned', aws_region: 'eu-central-1', placement: 'model' });
    expect(record?.rtt_ms).toBeUndefined();
  });

  it('lists only the pinned region for a pinned device', async () => {
    // Prepare
    const name = await enrolled({ pinnedRegion: 'ap-south-1' });

    // Act
    const { answer } = await ask(harness(), name);

    // Assess
    expect(answer).toMatchObject({ region: 'ap-south-1', placement: 'pinned' });
    expect(answer.candidates.map((c) => c.region)).toEqual(['ap-south-1']);
  });
});

describe('a second request with figures', () => {
  it('moves the device to a candidate faster by more than the margin, records the figures, and issues a ticket there', async () => {
    // Prepare
    const name = await enrolled();
    const h = harness();
    const first = (await ask(h, name)).answer;
    const [nearest, second, third] = first.candidates.map((c) => c.region);
    if (!nearest || !second || !third) throw new Error('three candidates expected');
    const figures = [
      { region: nearest, ms: 80 },
      { region: second, ms: 20.5 },
      { region: third, ms: 95 },
    ];

    // Act
    const { status, answer } = await ask(h, name, figures);

    // Assess
    expect(status).toBe(200);
    expect(answer).toMatchObject({ region: second, placement: 'measured' });
    expect(answer.fallbacks.map((f) => f.region)).toEqual([nearest, third]);
    expect(verifyTicket(answer.ticket, h.ticketKeys, t.clock.now)).toMatchObject({ sub: name, rgn: second });
    const record = await t.registry.get(name);
    expect(record).toMatchObject({ prov_status: 'assigned', aws_region: second, placement: 'measured', assign_attempts: 2 });
    expect(record?.rtt_ms).toEqual({ [nearest]: 80, [second]: 20.5, [third]: 95 });
  });

  it('keeps the model region when the faster candidate is within the margin', async () => {
    // Prepare: 60 ms against 55 ms is faster by 5 ms, but not by 10% of 60 ms.
    const name = await enrolled();
    const h = harness();
    const [nearest, second] = (await ask(h, name)).answer.candidates.map((c) => c.region);
    if (!nearest || !second) throw new Error('two candidates expected');

    // Act
    const { answer } = await ask(h, name, [
      { region: nearest, ms: 60 },
      { region: second, ms: 55 },
    ]);

    // Assess
    expect(answer).toMatchObject({ region: nearest, placement: 'model' });
    expect((await t.registry.get(name))?.rtt_ms).toEqual({ [nearest]: 60, [second]: 55 });
  });

  it('honours a configured margin', async () => {
    // Prepare: the same figures, a margin of 2 ms and 5%.
    const name = await enrolled();
    const h = harness({ measuredChoice: { marginMs: 2, marginRatio: 0.05 } });
    const [nearest, second] = (await ask(h, name)).answer.candidates.map((c) => c.region);
    if (!nearest || !second) throw new Error('two candidates expected');

    // Act
    const { answer } = await ask(h, name, [
      { region: nearest, ms: 60 },
      { region: second, ms: 55 },
    ]);

    // Assess
    expect(answer).toMatchObject({ region: second, placement: 'measured' });
  });

  it('answers a device that sends no figures as before, and drops the figures of its earlier assignment', async () => {
    // Prepare
    const name = await enrolled();
    const h = harness();
    const [nearest, second] = (await ask(h, name)).answer.candidates.map((c) => c.region);
    if (!nearest || !second) throw new Error('two candidates expected');
    await ask(h, name, [
      { region: nearest, ms: 90 },
      { region: second, ms: 10 },
    ]);

    // Act
    const { answer } = await ask(h, name);

    // Assess
    expect(answer).toMatchObject({ region: nearest, placement: 'model' });
    const record = await t.registry.get(name);
    expect(record).toMatchObject({ aws_region: nearest, placement: 'model' });
    expect(record?.rtt_ms).toBeUndefined();
  });
});

describe('figures the bootstrap refuses (400, nothing changed)', () => {
  const cases: [string, (candidates: string[]) => unknown[]][] = [
    ['a region that was not a candidate', (c) => [{ region: c[0], ms: 50 }, { region: 'us-west-2', ms: 5 }]],
    ['a time under 1 ms', (c) => [{ region: c[0], ms: 0.5 }]],
    ['a time over 10 s', (c) => [{ region: c[0], ms: 10_000.1 }]],
    ['a time with two decimals', (c) => [{ region: c[0], ms: 23.45 }]],
    ['a region measured twice', (c) => [{ region: c[0], ms: 20 }, { region: c[0], ms: 30 }]],
    ['an empty list', () => []],
    ['a time as text', (c) => [{ region: c[0], ms: '20' }]],
  ];

  for (const [label, figures] of cases) {
    it(`refuses ${label}`, async () => {
      // Prepare
      const name = await enrolled();
      const h = harness();
      const candidates = (await ask(h, name)).answer.candidates.map((c) => c.region);
      const before = await t.registry.get(name);
      const body = bodyWith(h, name, ++t.clock.now, figures(candidates));

      // Act
      const res = await h.handler(httpApiEvent(body, SOURCE));

      // Assess
      expect(res.statusCode).toBe(400);
      expect(parseAnswer(res)['code']).toBe('INVALID_REQUEST');
      expect(await t.registry.get(name)).toEqual(before);
    });
  }

  it('refuses a request whose figures were changed after signing (401)', async () => {
    // Prepare
    const name = await enrolled();
    const h = harness();
    const [nearest, second] = (await ask(h, name)).answer.candidates.map((c) => c.region);
    if (!nearest || !second) throw new Error('two candidates expected');
    const before = await t.registry.get(name);
    const signed = signedBootstrapRequest(h.fleetKey, name, ++t.clock.now, [
      { region: nearest, ms: 20 },
      { region: second, ms: 80 },
    ]);
    const tampered = { ...signed, measurements: [{ region: nearest, ms: 80 }, { region: second, ms: 20 }] };

    // Act
    const res = await h.handler(httpApiEvent(tampered, SOURCE));

    // Assess
    expect(res.statusCode).toBe(401);
    expect(await t.registry.get(name)).toEqual(before);
  });

  it('refuses figures in a request without a timestamp (the legacy format signs none)', async () => {
    // Prepare
    const name = await enrolled();
    const h = harness({ legacySignatures: true });
    const body = { 'thing-name': name, 'thing-name-sig': 'AAAA', measurements: [{ region: 'eu-central-1', ms: 20 }] };

    // Act
    const res = await h.handler(httpApiEvent(body, SOURCE));

    // Assess
    expect(res.statusCode).toBe(400);
    expect((await t.registry.get(name))?.prov_status).toBe('unprovisioned');
  });
});

describe('figures never leave residency or enter draining', () => {
  it('keeps a device inside its residency list however fast a region outside it measured', async () => {
    // Prepare: German devices may use eu-central-1 and eu-west-1 only.
    const name = await enrolled();
    const h = harness({ residency: { DE: ['eu-central-1', 'eu-west-1'] } });
    const first = (await ask(h, name)).answer;
    const before = await t.registry.get(name);

    // Act
    const outside = await ask(h, name, [
      { region: 'eu-central-1', ms: 90 },
      { region: 'us-east-1', ms: 2 },
    ]);
    const inside = await ask(h, name, [
      { region: 'eu-central-1', ms: 90 },
      { region: 'eu-west-1', ms: 30 },
    ]);

    // Assess
    expect(first.candidates.map((c) => c.region)).toEqual(['eu-central-1', 'eu-west-1']);
    expect(outside.status).toBe(400);
    expect(before?.aws_region).toBe('eu-central-1');
    expect(inside.answer).toMatchObject({ region: 'eu-west-1', placement: 'measured' });
  });

  it('sets aside the figure of a region drained since the first answer, and decides on the rest', async () => {
    // Prepare
    const name = await enrolled();
    const h = harness();
    const [nearest, second, third] = (await ask(h, name)).answer.candidates.map((c) => c.region);
    if (!nearest || !second || !third) throw new Error('three candidates expected');
    await t.registry.setRegionDraining(second, true);

    // Act
    let result;
    try {
      result = await ask(h, name, [
        { region: nearest, ms: 90 },
        { region: second, ms: 5 },
        { region: third, ms: 88 },
      ]);
    } finally {
      await t.registry.setRegionDraining(second, false);
    }

    // Assess
    expect(result.status).toBe(200);
    expect(result.answer.region).not.toBe(second);
    expect(result.answer).toMatchObject({ region: nearest, placement: 'model' });
    expect((await t.registry.get(name))?.rtt_ms).toEqual({ [nearest]: 90, [third]: 88 });
  });

  it('never moves a pinned device, and refuses figures for regions it was not offered', async () => {
    // Prepare
    const name = await enrolled({ pinnedRegion: 'ap-south-1' });
    const h = harness();
    await ask(h, name);

    // Act
    const own = await ask(h, name, [{ region: 'ap-south-1', ms: 300 }]);
    const others = await ask(h, name, [
      { region: 'ap-south-1', ms: 300 },
      { region: 'eu-central-1', ms: 10 },
    ]);

    // Assess
    expect(own.answer).toMatchObject({ region: 'ap-south-1', placement: 'pinned' });
    expect(others.status).toBe(400);
  });
});
