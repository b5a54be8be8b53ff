import { randomUUID } from 'node:crypto';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leastProvisioningTime } from '@global-iot/core/admission/least-time.js';
import { admissionCeiling, admit, type AdmissionDeps, tryAdmit } from '@global-iot/core/admission/limiter.js';
import { takePlace } from '@global-iot/core/admission/retry-queue.js';
import { ADMISSION_TTL_ATTRIBUTE, admissionCounterKey, admissionLineKey, ensureAdmissionTable } from '@global-iot/core/admission/table.js';
import { admissionSchema, type AdmissionSettings } from '@global-iot/core/config.js';
import { DependencyUnavailable } from '@global-iot/core/errors.js';
import { type LocalDynamo, startDynalite } from '@global-iot/local/dynamodb.js';

let dynamo: LocalDynamo;
let client: DynamoDBClient;

beforeAll(async () => {
  dynamo = await startDynalite();
  client = new DynamoDBClient({ region: 'us-east-1', endpoint: dynamo.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});

afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

/** A fresh counter table and settings: ceiling 8 per region (quota 10 x 0.8) unless changed. */
async function setup(overrides: Partial<AdmissionSettings> = {}): Promise<AdmissionSettings> {
  const settings = admissionSchema.parse({ tableName: `admission-${randomUUID().slice(0, 8)}`, ...overrides });
  await ensureAdmissionTable(client, settings.tableName);
  return settings;
}

function deps(clock: { now: number }): AdmissionDeps {
  return { client, now: () => clock.now };
}

const T0 = Date.parse('2026-11-28T12:00:00.000Z');

describe('admissionCeiling', () => {
  it.each<[string, Partial<AdmissionSettings>, string, number]>([
    ["AWS's published 10 per second times 0.8", {}, 'us-east-1', 8],
    ['a raised quota for one region', { regionQuotaTps: { 'eu-central-1': 50 } }, 'eu-central-1', 40],
    ['other regions keep the default', { regionQuotaTps: { 'eu-central-1': 50 } }, 'us-east-1', 8],
    ['10 x 0.7, without a rounding slip', { safetyFactor: 0.7 }, 'us-east-1', 7],
    ['never less than one', { registerThingQuotaTps: 1, safetyFactor: 0.5 }, 'us-east-1', 1],
  ])('%s', (_why, overrides, region, expected) => {
    // Prepare
    const settings = admissionSchema.parse(overrides);

    // Act
    const ceiling = admissionCeiling(settings, region);

    // Assess
    expect(ceiling).toBe(expected);
  });
});

describe('tryAdmit against DynamoDB (dynalite)', () => {
  it('never admits more than the ceiling in a second, however many callers race', async () => {
    // Prepare
    const settings = await setup();
    const clock = { now: T0 + 250 };

    // Act
    const outcomes = await Promise.all(Array.from({ length: 60 }, () => tryAdmit(deps(clock), settings, 'us-east-1')));

    // Assess
    expect(outcomes.filter((o) => o.admitted)).toHaveLength(8);
    expect(outcomes.map((o) => o.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(outcomes.filter((o) => o.admitted).every((o) => o.count <= 8)).toBe(true);
  });

  it('keeps every second under the ceiling while the clock moves, and each region apart', async () => {
    // Prepare
    const settings = await setup();
    const clock = { now: T0 };
    const admittedPerSecond = new Map<string, number>();

    // Act: 4 seconds of 25 concurrent attempts at two regions each.
    for (let s = 0; s < 4; s++) {
      clock.now = T0 + s * 1000 + 10;
      const wave = await Promise.all(
        Array.from({ length: 50 }, (_, i) => tryAdmit(deps(clock), settings, i % 2 === 0 ? 'us-east-1' : 'eu-central-1')),
      );
      for (const o of wave) {
        if (o.admitted) admittedPerSecond.set(`${o.region}@${o.second}`, (admittedPerSecond.get(`${o.region}@${o.second}`) ?? 0) + 1);
      }
    }

    // Assess
    expect(admittedPerSecond.size).toBe(8);
    expect([...admittedPerSecond.values()]).toEqual(Array.from({ length: 8 }, () => 8));
  });

  it('lets the counter expire: TTL set on it, and the next second starts again at 1', async () => {
    // Prepare
    const settings = await setup({ counterTtlSeconds: 600 });
    const clock = { now: T0 + 999 };
    const second = Math.floor(clock.now / 1000);
    for (let i = 0; i < 9; i++) await tryAdmit(deps(clock), settings, 'ap-northeast-1');

    // Act
    const stored = await client.send(
      new GetItemCommand({ TableName: settings.tableName, Key: { pk: { S: admissionCounterKey('ap-northeast-1', second) } } }),
    );
    clock.now = T0 + 1000;
    const next = await tryAdmit(deps(clock), settings, 'ap-northeast-1');

    // Assess
    expect(stored.Item?.[ADMISSION_TTL_ATTRIBUTE]?.N).toBe(String(second + 600));
    expect(stored.Item?.attempts?.N).toBe('9');
    expect(next).toMatchObject({ admitted: true, count: 1, second: second + 1 });
  });

  it('reports DynamoDB not answering as DependencyUnavailable', async () => {
    // Prepare: nothing listens on the port of a stopped dynalite.
    const stopped = await startDynalite();
    await stopped.close();
    const dead = new DynamoDBClient({ region: 'us-east-1', endpoint: stopped.endpoint, maxAttempts: 1, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const settings = admissionSchema.parse({});

    // Act
    const attempt = tryAdmit({ client: dead, now: () => T0 }, settings, 'us-east-1');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(DependencyUnavailable);
    dead.destroy();
  });
});

describe('Retry-After: a place in the region\'s queue', () => {
  /** `count` refused devices at the clock's time, one after another; their Retry-Afters. */
  async function refuse(settings: AdmissionSettings, clock: { now: number }, count: number, region = 'sa-east-1'): Promise<number[]> {
    const waits: number[] = [];
    for (let i = 0; i < count; i++) {
      const outcome = await admit(deps(clock), settings, [region]);
      if (!outcome.admitted) waits.push(outcome.retryAfterSeconds);
    }
    return waits;
  }

  function histogram(waits: readonly number[]): Record<number, number> {
    const counts: Record<number, number> = {};
    for (const w of waits) counts[w] = (counts[w] ?? 0) + 1;
    return counts;
  }

  it('spreads a burst over the seconds it needs: ceiling-many refused devices per second', async () => {
    // Prepare
    const settings = await setup();
    const clock = { now: T0 + 100 };

    // Act: 40 at once, 8 admitted.
    const outcomes = await Promise.all(Array.from({ length: 40 }, () => admit(deps(clock), settings, ['sa-east-1'])));

    // Assess
    const waits = outcomes.flatMap((o) => (o.admitted ? [] : [o.retryAfterSeconds]));
    expect(histogram(waits)).toEqual({ 1: 8, 2: 8, 3: 8, 4: 8 });
  });

  it('remembers the seconds given out: a device refused later goes behind them', async () => {
    // Prepare: 8 admitted and 16 queued for the next two seconds.
    const settings = await setup();
    const clock = { now: T0 + 100 };
    await refuse(settings, clock, 24);

    // Act: one more in the same second, then one a second later (still refused there: 9 attempts).
    clock.now = T0 + 500;
    const sameSecond = await refuse(settings, clock, 1);
    clock.now = T0 + 1_100;
    await refuse(settings, clock, 8);
    const nextSecond = await refuse(settings, clock, 1);

    // Assess: places in second 3, then behind it in second 3 too (counted from second 1).
    expect(sameSecond).toEqual([3]);
    expect(nextSecond).toEqual([2]);
  });

  it('starts again at the next second once its last place is past', async () => {
    // Prepare
    const settings = await setup();
    const clock = { now: T0 + 100 };
    await refuse(settings, clock, 30);

    // Act
    clock.now = T0 + 60_000;
    const waits = await refuse(settings, clock, 9);

    // Assess
    expect(waits).toEqual([1]);
  });

  it('keeps each region\'s queue apart, with the counters\' time to live', async () => {
    // Prepare
    const settings = await setup({ counterTtlSeconds: 900 });
    const clock = { now: T0 + 100 };

    // Act
    const saoPaulo = await refuse(settings, clock, 20, 'sa-east-1');
    const tokyo = await refuse(settings, clock, 9, 'ap-northeast-1');
    const stored = await client.send(new GetItemCommand({ TableName: settings.tableName, Key: { pk: { S: admissionLineKey('sa-east-1', 'retry') } } }));

    // Assess
    expect(saoPaulo.at(-1)).toBe(2);
    expect(tokyo).toEqual([1]);
    expect(stored.Item?.[ADMISSION_TTL_ATTRIBUTE]?.N).toBe(String(Math.floor(T0 / 1000) + 900));
  });

  it('is capped by maxRetryAfterSeconds and is at least 1', async () => {
    // Prepare: a ceiling of 1 and a cap of 3 s.
    const settings = await setup({ registerThingQuotaTps: 1, safetyFactor: 1, maxRetryAfterSeconds: 3 });
    const clock = { now: T0 + 999 };

    // Act
    const waits = await refuse(settings, clock, 6);

    // Assess
    expect(waits).toEqual([1, 2, 3, 3, 3]);
  });
});

describe('the release line', () => {
  it('spaces answers 1 / ceiling s apart however they bunch, and starts again at once after a lull', async () => {
    // Prepare
    const settings = await setup();
    const clock = { now: T0 + 400 };

    // Act: five answers ready together, then one ten seconds later.
    const bunched = await Promise.all(Array.from({ length: 5 }, () => takePlace(deps(clock), settings, 'eu-central-1', 'release', 8, clock.now)));
    clock.now = T0 + 10_400;
    const later = await takePlace(deps(clock), settings, 'eu-central-1', 'release', 8, clock.now);

    // Assess
    expect([...bunched].sort((a, b) => a - b)).toEqual([0, 125, 250, 375, 500].map((ms) => T0 + 400 + ms));
    expect(later).toBe(T0 + 10_400);
  });
});

describe('admit', () => {
  it('answers 429 material when the region is full and overflow is retry-after', async () => {
    // Prepare
    const settings = await setup({ registerThingQuotaTps: 1, safetyFactor: 1 });
    const clock = { now: T0 };

    // Act
    const first = await admit(deps(clock), settings, ['us-east-1', 'eu-central-1']);
    const second = await admit(deps(clock), settings, ['us-east-1', 'eu-central-1']);

    // Assess
    expect(first).toMatchObject({ admitted: true, region: 'us-east-1', overflowedFrom: [] });
    expect(second).toMatchObject({ admitted: false, retryAfterSeconds: 1, refused: [{ region: 'us-east-1', count: 2 }] });
  });

  it('sends the device to its next candidate when overflow is next-region, then refuses', async () => {
    // Prepare
    const settings = await setup({ registerThingQuotaTps: 1, safetyFactor: 1, overflow: 'next-region', overflowRegions: 1 });
    const clock = { now: T0 };
    const candidates = ['us-east-1', 'eu-central-1', 'sa-east-1'];

    // Act
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await admit(deps(clock), settings, candidates));

    // Assess
    expect(outcomes[0]).toMatchObject({ admitted: true, region: 'us-east-1', overflowedFrom: [] });
    expect(outcomes[1]).toMatchObject({ admitted: true, region: 'eu-central-1', overflowedFrom: ['us-east-1'] });
    expect(outcomes[2]).toMatchObject({ admitted: false, refused: [{ region: 'us-east-1' }, { region: 'eu-central-1' }] });
  });

  it('never leaves the candidates it is given: a pinned device passes only its region', async () => {
    // Prepare
    const settings = await setup({ registerThingQuotaTps: 1, safetyFactor: 1, overflow: 'next-region', overflowRegions: 3 });
    const clock = { now: T0 };
    await admit(deps(clock), settings, ['eu-west-1']);

    // Act
    const pinned = await admit(deps(clock), settings, ['eu-west-1']);

    // Assess
    expect(pinned).toMatchObject({ admitted: false, refused: [{ region: 'eu-west-1' }] });
  });

  it('admits without a write when admission is off', async () => {
    // Prepare: a table that does not exist would fail any write.
    const settings = admissionSchema.parse({ enabled: false, tableName: 'no-such-table' });

    // Act
    const outcome = await admit(deps({ now: T0 }), settings, ['us-east-1']);

    // Assess
    expect(outcome).toEqual({ admitted: true, region: 'us-east-1', overflowedFrom: [] });
  });
});

describe('leastProvisioningTime', () => {
  it('is the slowest region at its ceiling: ceil(devices / ceiling), regions side by side', () => {
    // Prepare: ceilings of 8 (default) and 40 (a raised quota of 50).
    const settings = admissionSchema.parse({ regionQuotaTps: { 'eu-central-1': 50 } });

    // Act
    const least = leastProvisioningTime({ 'us-east-1': 17, 'eu-central-1': 200, 'sa-east-1': 0 }, settings);

    // Assess
    expect(least.seconds).toBe(5);
    expect(least.perRegion).toEqual([
      { region: 'eu-central-1', devices: 200, ceiling: 40, seconds: 5 },
      { region: 'us-east-1', devices: 17, ceiling: 8, seconds: 3 },
    ]);
  });

  it('is no time at all with admission off, or with no device', () => {
    // Act
    const off = leastProvisioningTime({ 'us-east-1': 1_000 }, admissionSchema.parse({ enabled: false }));
    const none = leastProvisioningTime({}, admissionSchema.parse({}));

    // Assess
    expect(off.seconds).toBe(0);
    expect(none).toEqual({ seconds: 0, perRegion: [] });
  });
});
