import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdmissionTable } from '@global-iot/core/admission/table.js';
import type { DeploymentConfigInput } from '@global-iot/core/config.js';
import type { DeviceRegistry } from '@global-iot/core/registry/index.js';
import type { Measurement } from '@global-iot/core/measurements.js';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { type Harness, httpApiEvent, makeHarness, parseAnswer } from '../helpers/bootstrap.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * Quota-aware admission through the bootstrap handler, against dynalite: each region's new
 * assignments a second stay under its ceiling; over it a 429 with Retry-After that changes
 * nothing, or the next region where the configuration allows it.
 */

let t: TestRegistry;
beforeAll(async () => {
  t = await startTestRegistry();
});
afterAll(async () => {
  await t.close();
});

// Source addresses the harness's lookup places: Frankfurt (eu-central-1) and Dublin (eu-west-1).
const PLACES: Record<string, { lat: number; lon: number; country: string }> = {
  '81.169.145.1': { lat: 50.11, lon: 8.68, country: 'DE' },
  '87.32.0.1': { lat: 53.35, lon: -6.26, country: 'IE' },
};
const FRANKFURT = '81.169.145.1';
const DUBLIN = '87.32.0.1';

let counter = 0;
async function enrolled(pinnedRegion?: string): Promise<string> {
  const name = `admit-${++counter}`;
  await t.registry.enroll({ thingName: name, ...(pinnedRegion ? { pinnedRegion } : {}) });
  return name;
}

/** The test registry, but each assignment's write takes `ms` of the test clock. */
function slowAssignments(ms: number): DeviceRegistry {
  return new Proxy(t.registry, {
    get(target, property, receiver) {
      if (property === 'assign') {
        return async (...args: Parameters<DeviceRegistry['assign']>) => {
          t.clock.now += ms;
          return target.assign(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A harness whose admission table is fresh: counters of earlier tests do not carry over. */
async function harness(
  admission: Record<string, unknown>,
  config: Partial<DeploymentConfigInput> = {},
  registry: DeviceRegistry = t.registry,
): Promise<Harness> {
  const tableName = `admission-${randomUUID().slice(0, 8)}`;
  await ensureAdmissionTable(t.client, tableName);
  return makeHarness({
    registry,
    now: () => t.clock.now,
    config: { admission: { tableName, safetyFactor: 1, ...admission }, ...config },
    geo: { lookup: (ip) => PLACES[ip] },
    admissionClient: t.client,
  });
}

async function ask(h: Harness, name: string, sourceIp = FRANKFURT, measurements: Measurement[] = []) {
  const res = await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, name, ++t.clock.now, measurements), { sourceIp }));
  return { status: res.statusCode, headers: res.headers ?? {}, body: parseAnswer(res) };
}

/** The clock at the start of a second of its own, so that a test's requests share one. */
function nextSecond(): void {
  t.clock.now = (Math.floor(t.clock.now / 1000) + 1) * 1000 + 100;
}

describe('over the ceiling, retry-after', () => {
  it('answers 429 REGION_BUSY with a Retry-After, changes nothing, and admits the device the next second', async () => {
    // Prepare: a ceiling of 2 new devices a second.
    const h = await harness({ registerThingQuotaTps: 2 });
    const names = [await enrolled(), await enrolled(), await enrolled()];
    nextSecond();

    // Act
    const answers = [];
    for (const name of names) answers.push(await ask(h, name));
    nextSecond();
    const later = await ask(h, names[2] ?? '');

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    const refused = answers[2];
    expect(refused?.body).toMatchObject({ status: 'error', code: 'REGION_BUSY' });
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(h.recorded.lines().at(2)).toMatchObject({ outcome: 'REGION_BUSY', retryAfter: Number(refused?.headers['retry-after']) });
    expect((await t.registry.get(names[2] ?? ''))?.prov_status).toBe('assigned');
    expect(later.status).toBe(200);
  });

  it('leaves the refused device exactly as it was', async () => {
    // Prepare
    const h = await harness({ registerThingQuotaTps: 1 });
    const first = await enrolled();
    const second = await enrolled();
    nextSecond();
    await ask(h, first);
    const before = await t.registry.get(second);

    // Act
    const refused = await ask(h, second);

    // Assess
    expect(refused.status).toBe(429);
    expect(await t.registry.get(second)).toEqual(before);
  });

  it('spreads a burst: the later a refusal in its second, the longer its Retry-After', async () => {
    // Prepare: ceiling 2, ten devices in one second.
    const h = await harness({ registerThingQuotaTps: 2 });
    const names = [];
    for (let i = 0; i < 10; i++) names.push(await enrolled());
    nextSecond();

    // Act
    const waits = [];
    for (const name of names) {
      const answer = await ask(h, name);
      if (answer.status === 429) waits.push(Number(answer.headers['retry-after']));
    }

    // Assess: 8 refused, 2 per later second: 1, 1, 2, 2, 3, 3, 4, 4.
    expect(waits).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
  });

  it('never moves a pinned device to another region, whatever the overflow setting', async () => {
    // Prepare
    const h = await harness({ registerThingQuotaTps: 1, overflow: 'next-region' });
    const first = await enrolled('eu-central-1');
    const second = await enrolled('eu-central-1');
    nextSecond();

    // Act
    const answers = [await ask(h, first), await ask(h, second)];

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 429]);
  });
});

describe('pacing', () => {
  it('gives a region\'s admitted devices RegisterThing times 1 / ceiling s apart, a lead after the first answer', async () => {
    // Prepare: a ceiling of 4 and the default lead (1 s); the requests arrive 1 ms apart.
    const h = await harness({ registerThingQuotaTps: 4 });
    const names = [await enrolled(), await enrolled(), await enrolled(), await enrolled()];
    nextSecond();

    // Act
    const answers = [];
    for (const name of names) answers.push((await ask(h, name)).body);

    // Assess: the first 1 s after its answer, then 250, 500 and 750 ms after it, whatever the answers' times.
    const first = answers[0];
    expect(first?.registerAt).toBe(Number(first?.serverTime) + 1000);
    expect(answers.map((a) => Number(a.registerAt) - Number(first?.registerAt))).toEqual([0, 250, 500, 750]);
    expect(answers.map((a) => a.serverTime)).toEqual([1, 2, 3, 4].map((i) => Number(first?.serverTime) + i - 1));
  });

  it('starts the line again at the lead once it has run out', async () => {
    // Prepare: no lead; the second request comes 2 s after the first, when its place has passed.
    const h = await harness({ registerThingQuotaTps: 4, registerLeadMs: 0 });
    const names = [await enrolled(), await enrolled()];
    nextSecond();

    // Act
    const first = (await ask(h, names[0] ?? '')).body;
    t.clock.now += 2000;
    const second = (await ask(h, names[1] ?? '')).body;

    // Assess: each at its own answer's time, not 250 ms after the first.
    expect(first.registerAt).toBe(first.serverTime);
    expect(second.registerAt).toBe(second.serverTime);
  });

  it.each([
    [3_000, 3_000],
    [20_000, 10_000],
  ])('adds the time the assignment took to write (%i ms) to the lead, at most 10 s, so a slow write does not make the answer late', async (writeMs, added) => {
    // Prepare: the default lead (1 s); the line's own write may take as long as the assignment's did.
    const h = await harness({ registerThingQuotaTps: 4 }, {}, slowAssignments(writeMs));
    const name = await enrolled();
    nextSecond();

    // Act
    const { status, body } = await ask(h, name);

    // Assess
    expect(status).toBe(200);
    expect(Number(body.registerAt) - Number(body.serverTime)).toBe(1000 + added);
  });

  it('names no RegisterThing time with pacing off, nor to a device asking again for the slot it holds', async () => {
    // Prepare
    const off = await harness({ registerThingQuotaTps: 4, pacing: false });
    const on = await harness({ registerThingQuotaTps: 4 });
    const [a, b] = [await enrolled(), await enrolled()];
    nextSecond();

    // Act
    const unpaced = await ask(off, a);
    const paced = await ask(on, b);
    const again = await ask(on, b);

    // Assess
    expect(unpaced.status).toBe(200);
    expect(unpaced.body).not.toHaveProperty('registerAt');
    expect(paced.body).toHaveProperty('registerAt');
    expect(again.status).toBe(200);
    expect(again.body).not.toHaveProperty('registerAt');
  });
});

describe('over the ceiling, next-region', () => {
  it('sends the device to its next candidate, recorded as overflow, and answers 429 past overflowRegions', async () => {
    // Prepare: ceiling 1 a region, one further region allowed.
    const h = await harness({ registerThingQuotaTps: 1, overflow: 'next-region', overflowRegions: 1 });
    const names = [await enrolled(), await enrolled(), await enrolled()];
    nextSecond();

    // Act
    const answers = [];
    for (const name of names) answers.push(await ask(h, name));

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    const overflowed = answers[1]?.body;
    expect(overflowed).toMatchObject({ placement: 'overflow' });
    expect(overflowed?.['region']).not.toBe(answers[0]?.body['region']);
    const candidates = (answers[0]?.body['candidates'] as { region: string }[]).map((c) => c.region);
    expect(overflowed?.['region']).toBe(candidates[1]);
    expect(await t.registry.get(names[1] ?? '')).toMatchObject({ placement: 'overflow', aws_region: candidates[1] });
    expect(h.recorded.lines().at(-2)?.['admission']).toBe('overflow');
  });

  it('never overflows out of a residency list', async () => {
    // Prepare: German devices may only use eu-central-1.
    const h = await harness({ registerThingQuotaTps: 1, overflow: 'next-region' }, { residency: { DE: ['eu-central-1'] } });
    const names = [await enrolled(), await enrolled()];
    nextSecond();

    // Act
    const answers = [await ask(h, names[0] ?? ''), await ask(h, names[1] ?? '')];

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 429]);
  });
});

describe('a device that already holds a slot', () => {
  it('is not counted again when it asks again with its figures', async () => {
    // Prepare: ceiling 2; device A asks twice, then device B still finds room.
    const h = await harness({ registerThingQuotaTps: 2 });
    const a = await enrolled();
    const b = await enrolled();
    nextSecond();
    const first = await ask(h, a);
    const regions = (first.body['candidates'] as { region: string }[]).map((c) => c.region);

    // Act
    const again = await ask(h, a, FRANKFURT, regions.map((region, i) => ({ region, ms: 20 + i })));
    const other = await ask(h, b);

    // Assess
    expect([first.status, again.status, other.status]).toEqual([200, 200, 200]);
    expect(h.recorded.lines().at(-2)?.['admission']).toBe('held');
  });

  it('keeps the region it holds when its figures point to a region at its ceiling', async () => {
    // Prepare: ceiling 1; a Dublin device fills eu-west-1 this second.
    const h = await harness({ registerThingQuotaTps: 1 });
    const frankfurt = await enrolled();
    const dublin = await enrolled();
    nextSecond();
    const first = await ask(h, frankfurt);
    expect(first.body['region']).toBe('eu-central-1');
    const candidates = (first.body['candidates'] as { region: string }[]).map((c) => c.region);
    expect(candidates).toContain('eu-west-1');
    expect((await ask(h, dublin, DUBLIN)).body['region']).toBe('eu-west-1');

    // Act: eu-west-1 measured far faster.
    const moved = await ask(h, frankfurt, FRANKFURT, [
      { region: 'eu-central-1', ms: 90 },
      { region: 'eu-west-1', ms: 10 },
    ]);

    // Assess
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ region: 'eu-central-1', placement: 'model' });
    expect(h.recorded.lines().at(-1)?.['admission']).toBe('kept');
  });
});
