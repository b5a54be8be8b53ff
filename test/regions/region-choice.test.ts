import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { ConfigError } from '@global-iot/core/errors.js';
import {
  DEFAULT_FALLBACK_COUNT,
  InvalidLocation,
  InvalidRegionPolicy,
  NoEligibleRegion,
  PinnedRegionNotEnabled,
  compileRegionPolicy,
  regionPolicySchema,
  type RegionPolicy,
} from '@global-iot/core/region-choice.js';
import { REGION_CATALOGUE, greatCircleKm } from '@global-iot/core/regions.js';

const ALL = REGION_CATALOGUE.map((region) => region.code);

function allEnabled(overrides: Partial<RegionPolicy> = {}): RegionPolicy {
  return { enabled: ALL, defaultRegion: 'us-east-1', draining: [], residency: {}, ...overrides };
}

const FRANKFURT = { lat: 50.1155, lon: 8.6842 };
const LONDON = { lat: 51.5085, lon: -0.1257 };
const TOKYO = { lat: 35.6895, lon: 139.6917 };

describe('choose: nearest region with every region enabled', () => {
  it.each([
    ['Frankfurt', 50.1155, 8.6842, 'eu-central-1'],
    ['Tokyo', 35.6895, 139.6917, 'ap-northeast-1'],
    ['São Paulo', -23.5475, -46.6361, 'sa-east-1'],
    ['Sydney', -33.8679, 151.2073, 'ap-southeast-2'],
    ['Ashburn, VA', 39.0437, -77.4875, 'us-east-1'],
    ['Mumbai', 19.0728, 72.8826, 'ap-south-1'],
    ['Lisbon', 38.7167, -9.1333, 'eu-south-2'],
    ['Dallas, TX', 32.7831, -96.8067, 'us-east-2'],
    ['Auckland', -36.8485, 174.7633, 'ap-southeast-2'],
    ['Nairobi', -1.2833, 36.8167, 'me-south-1'],
  ])('%s goes to %s', (_name, lat, lon, expected) => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled());

    // Act
    const choice = chooser.choose({ location: { lat, lon } });

    // Assess
    expect(choice.region).toBe(expected);
    expect(choice.reason).toBe('nearest');
    expect(choice.fallbacks).toHaveLength(DEFAULT_FALLBACK_COUNT);
    expect(choice.fallbacks).not.toContain(expected);
  });

  it('reports the distance in whole km and the next-nearest regions as fallbacks', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled());

    // Act
    const choice = chooser.choose({ location: FRANKFURT });

    // Assess
    // The table's round trips from Frankfurt: Paris 14 ms, London 19 ms; in its own metro 9.4 ms.
    expect(choice).toEqual({ region: 'eu-central-1', distanceKm: 1, estimatedRttMs: 9, reason: 'nearest', fallbacks: ['eu-west-3', 'eu-west-2'] });
  });

  it('rounds the distance to the chosen region', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled({ enabled: ['eu-west-1', 'us-east-1'], defaultRegion: 'us-east-1' }));
    const dublin = { lat: 53.33, lon: -6.25 };

    // Act
    const choice = chooser.choose({ location: LONDON });

    // Assess
    expect(choice.region).toBe('eu-west-1');
    expect(choice.distanceKm).toBe(Math.round(greatCircleKm(LONDON, dublin)));
    expect(Number.isInteger(choice.distanceKm)).toBe(true);
  });

  it('does not depend on the order of enabled', () => {
    // Prepare
    const forward = compileRegionPolicy(allEnabled());
    const backward = compileRegionPolicy(allEnabled({ enabled: [...ALL].reverse() }));
    const points = [FRANKFURT, LONDON, TOKYO, { lat: 0, lon: 0 }, { lat: 90, lon: 0 }, { lat: -90, lon: 0 }];

    // Act
    const a = points.map((location) => forward.choose({ location }));
    const b = points.map((location) => backward.choose({ location }));

    // Assess
    expect(b).toEqual(a);
    expect(a.map((choice) => choice.region)).toEqual(['eu-central-1', 'eu-west-2', 'ap-northeast-1', 'eu-south-2', 'eu-north-1', 'ap-southeast-2']);
  });
});

describe('choose: residency', () => {
  const residency = { DE: ['eu-central-1', 'eu-west-1'] };

  it('keeps a German device in its allowed regions when a non-EU region is nearer', () => {
    // Prepare: geolocation says DE but the point is London, 0 km from eu-west-2.
    const chooser = compileRegionPolicy(allEnabled({ residency }));

    // Act
    const choice = chooser.choose({ location: { ...LONDON, country: 'DE' } });

    // Assess
    expect(choice.region).toBe('eu-west-1');
    expect(choice.fallbacks).toEqual(['eu-central-1']);
  });

  it('sends a German device to eu-west-1 when eu-central-1 drains, not to nearer Paris or London', () => {
    // Prepare
    const withRule = compileRegionPolicy(allEnabled({ residency, draining: ['eu-central-1'] }));
    const withoutRule = compileRegionPolicy(allEnabled({ draining: ['eu-central-1'] }));

    // Act
    const german = withRule.choose({ location: { ...FRANKFURT, country: 'DE' } });
    const unruled = withoutRule.choose({ location: { ...FRANKFURT, country: 'DE' } });

    // Assess
    expect(german).toMatchObject({ region: 'eu-west-1', reason: 'nearest', fallbacks: [] });
    expect(unruled.region).toBe('eu-west-3');
  });

  it('reads the country case-insensitively, so "de" cannot slip past the rule', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled({ residency }));

    // Act
    const choice = chooser.choose({ location: { ...LONDON, country: 'de' } });

    // Assess
    expect(choice.region).toBe('eu-west-1');
  });

  it('leaves other countries alone', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled({ residency }));

    // Act
    const choice = chooser.choose({ location: { ...LONDON, country: 'GB' } });

    // Assess
    expect(choice.region).toBe('eu-west-2');
  });

  it('throws NoEligibleRegion when every allowed region is draining', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled({ residency: { DE: ['eu-central-1'] }, draining: ['eu-central-1'] }));

    // Act
    const act = (): unknown => chooser.choose({ location: { ...FRANKFURT, country: 'DE' } });

    // Assess
    expect(act).toThrow(NoEligibleRegion);
    expect(act).toThrow(/DE/);
  });

  it('throws NoEligibleRegion when the pinned region is barred by residency', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled({ residency }));

    // Act
    const act = (): unknown => chooser.choose({ location: { ...FRANKFURT, country: 'DE' }, pinnedRegion: 'us-east-1' });

    // Assess
    expect(act).toThrow(NoEligibleRegion);
    expect(act).toThrow(/us-east-1/);
  });

  it('ignores a preferred region barred by residency', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled({ residency }));

    // Act
    const choice = chooser.choose({ location: { ...FRANKFURT, country: 'DE' }, preferredRegion: 'eu-west-3' });

    // Assess
    expect(choice).toMatchObject({ region: 'eu-central-1', reason: 'nearest' });
  });

  it('cannot apply residency without a location, which carries the country', () => {
    // Prepare: no location at all means no country, so the default applies.
    const chooser = compileRegionPolicy(allEnabled({ residency }));

    // Act
    const choice = chooser.choose({});

    // Assess
    expect(choice).toEqual({ region: 'us-east-1', reason: 'default', fallbacks: ['us-east-2', 'us-west-1'] });
  });
});

describe('choose: pinned region', () => {
  it('wins over the nearest region, with distance and nearest fallbacks', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled());

    // Act
    const choice = chooser.choose({ location: TOKYO, pinnedRegion: 'us-west-2' });

    // Assess
    expect(choice.region).toBe('us-west-2');
    expect(choice.reason).toBe('pinned');
    expect(choice.distanceKm).toBe(Math.round(greatCircleKm(TOKYO, { lat: 45.84, lon: -119.7 })));
    expect(choice.fallbacks).toEqual(['ap-northeast-1', 'ap-northeast-2']);
  });

  it('wins over a preferred region', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled());

    // Act
    const choice = chooser.choose({ location: TOKYO, pinnedRegion: 'us-west-2', preferredRegion: 'ap-northeast-2' });

    // Assess
    expect(choice).toMatchObject({ region: 'us-west-2', reason: 'pinned' });
  });

  it('is ignored when draining: the device falls through to the nearest region', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled({ draining: ['us-west-2'] }));

    // Act
    const choice = chooser.choose({ location: TOKYO, pinnedRegion: 'us-west-2' });

    // Assess
    expect(choice).toMatchObject({ region: 'ap-northeast-1', reason: 'nearest' });
  });

  it('is ignored when draining, and a candidate preferred region then wins', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled({ draining: ['us-west-2'] }));

    // Act
    const choice = chooser.choose({ location: TOKYO, pinnedRegion: 'us-west-2', preferredRegion: 'ap-east-1' });

    // Assess
    expect(choice).toMatchObject({ region: 'ap-east-1', reason: 'preferred' });
  });

  it.each(['eu-west-1', 'no-such-1', ''])('throws PinnedRegionNotEnabled for %j', (pinned) => {
    // Prepare
    const chooser = compileRegionPolicy({ enabled: ['us-east-1', 'us-west-2'], defaultRegion: 'us-east-1' });

    // Act
    const act = (): unknown => chooser.choose({ location: TOKYO, pinnedRegion: pinned });

    // Assess
    expect(act).toThrow(PinnedRegionNotEnabled);
  });

  it('without a location gets the default region first among its fallbacks', () => {
    // Prepare
    const chooser = compileRegionPolicy({ enabled: ['eu-west-1', 'eu-central-1', 'us-east-1'], defaultRegion: 'us-east-1' });

    // Act
    const choice = chooser.choose({ pinnedRegion: 'eu-central-1' });

    // Assess
    expect(choice).toEqual({ region: 'eu-central-1', reason: 'pinned', fallbacks: ['us-east-1', 'eu-west-1'] });
  });
});

describe('choose: preferred region', () => {
  it('is honoured when it is a candidate', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled());

    // Act
    const choice = chooser.choose({ location: FRANKFURT, preferredRegion: 'eu-north-1' });

    // Assess
    expect(choice).toMatchObject({ region: 'eu-north-1', reason: 'preferred', fallbacks: ['eu-central-1', 'eu-west-3'] });
    expect(choice.distanceKm).toBeGreaterThan(1000);
  });

  it.each([
    ['draining', { draining: ['eu-north-1'] }, 'eu-north-1'],
    ['not enabled', { enabled: ['eu-central-1', 'eu-west-3', 'us-east-1'] }, 'eu-north-1'],
    ['not a region', {}, 'eu-north-9'],
  ])('is ignored when %s', (_why, overrides, preferred) => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled(overrides));

    // Act
    const choice = chooser.choose({ location: FRANKFURT, preferredRegion: preferred });

    // Assess
    expect(choice).toMatchObject({ region: 'eu-central-1', reason: 'nearest' });
  });

  it('without a location is honoured and reported without a distance', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled());

    // Act
    const choice = chooser.choose({ preferredRegion: 'sa-east-1' });

    // Assess
    expect(choice).toEqual({ region: 'sa-east-1', reason: 'preferred', fallbacks: ['us-east-1', 'us-east-2'] });
  });
});

describe('choose: draining regions', () => {
  it('are skipped as the choice and as fallbacks', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled({ draining: ['eu-central-1', 'eu-west-3'] }));

    // Act
    const choice = chooser.choose({ location: FRANKFURT });

    // Assess: from Frankfurt the table gives London 19 ms, Dublin 28, Madrid 30, Gävle 34.
    expect(choice.region).toBe('eu-west-2');
    expect(choice.fallbacks).toEqual(['eu-west-1', 'eu-south-2']);
  });
});

describe('choose: no location', () => {
  it('takes the default region, without a distance, and the others in enabled order', () => {
    // Prepare
    const chooser = compileRegionPolicy({ enabled: ['eu-west-1', 'us-east-1', 'ap-south-1'], defaultRegion: 'us-east-1' });

    // Act
    const choice = chooser.choose({});

    // Assess
    expect(choice).toEqual({ region: 'us-east-1', reason: 'default', fallbacks: ['eu-west-1', 'ap-south-1'] });
    expect('distanceKm' in choice).toBe(false);
  });

  it('takes the first candidate when the default region is draining', () => {
    // Prepare
    const chooser = compileRegionPolicy({
      enabled: ['eu-west-1', 'us-east-1', 'ap-south-1'],
      defaultRegion: 'us-east-1',
      draining: ['us-east-1'],
    });

    // Act
    const choice = chooser.choose({});

    // Assess
    expect(choice).toEqual({ region: 'eu-west-1', reason: 'default', fallbacks: ['ap-south-1'] });
  });
});

describe('choose: fallbackCount', () => {
  it('0 gives no fallbacks, with and without a location', () => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled({ fallbackCount: 0 }));

    // Act
    const near = chooser.choose({ location: FRANKFURT });
    const pinned = chooser.choose({ location: FRANKFURT, pinnedRegion: 'us-east-1' });
    const none = chooser.choose({});

    // Assess
    expect(near).toMatchObject({ region: 'eu-central-1', fallbacks: [] });
    expect(pinned).toMatchObject({ region: 'us-east-1', fallbacks: [] });
    expect(none).toMatchObject({ region: 'us-east-1', fallbacks: [] });
  });

  it('larger than the candidates lists every other candidate, nearest first', () => {
    // Prepare
    const chooser = compileRegionPolicy({ enabled: ['us-east-1', 'eu-west-1', 'eu-central-1'], defaultRegion: 'us-east-1', fallbackCount: 5 });

    // Act
    const choice = chooser.choose({ location: FRANKFURT });

    // Assess
    expect(choice.fallbacks).toEqual(['eu-west-1', 'us-east-1']);
  });
});

describe('choose: bad locations', () => {
  it.each([
    ['latitude above 90', { lat: 90.5, lon: 0 }],
    ['latitude below -90', { lat: -91, lon: 0 }],
    ['longitude above 180', { lat: 0, lon: 180.01 }],
    ['longitude below -180', { lat: 0, lon: -181 }],
    ['NaN latitude', { lat: Number.NaN, lon: 0 }],
    ['infinite longitude', { lat: 0, lon: Number.POSITIVE_INFINITY }],
    ['three-letter country', { lat: 50, lon: 8, country: 'DEU' }],
    ['country with a digit', { lat: 50, lon: 8, country: 'D1' }],
    ['empty country', { lat: 50, lon: 8, country: '' }],
  ])('%s throws InvalidLocation', (_why, location) => {
    // Prepare
    const chooser = compileRegionPolicy(allEnabled({ residency: { DE: ['eu-west-1'] } }));

    // Act
    const act = (): unknown => chooser.choose({ location });

    // Assess
    expect(act).toThrow(InvalidLocation);
  });
});

describe('regionPolicySchema / compileRegionPolicy validation', () => {
  function problemsOf(policy: unknown): string[] {
    try {
      compileRegionPolicy(policy);
    } catch (error) {
      if (error instanceof InvalidRegionPolicy) return [...error.problems];
      throw error;
    }
    return [];
  }

  it('accepts a minimal policy and fills in the defaults', () => {
    // Prepare
    const policy = { enabled: ['us-east-1'], defaultRegion: 'us-east-1' };

    // Act
    const parsed = regionPolicySchema.parse(policy);

    // Assess
    expect(parsed).toEqual({ enabled: ['us-east-1'], defaultRegion: 'us-east-1', draining: [], residency: {}, fallbackCount: 2, ranking: 'network' });
  });

  it.each([
    ['an unknown region', { enabled: ['us-east-1', 'us-east-7'], defaultRegion: 'us-east-1' }, /enabled\.1: unknown region "us-east-7"/],
    ['a region without IoT Core', { enabled: ['us-east-1', 'ap-southeast-3'], defaultRegion: 'us-east-1' }, /"ap-southeast-3"/],
    ['a default region that is not enabled', { enabled: ['us-east-1'], defaultRegion: 'eu-west-1' }, /defaultRegion: default region "eu-west-1" is not enabled/],
    ['an unknown default region', { enabled: ['us-east-1'], defaultRegion: 'moon-1' }, /defaultRegion: unknown region "moon-1"/],
    ['an empty enabled list', { enabled: [], defaultRegion: 'us-east-1' }, /enabled: enabled must name at least one region/],
    [
      'residency naming a disabled region',
      { enabled: ['us-east-1', 'eu-central-1'], defaultRegion: 'us-east-1', residency: { DE: ['eu-central-1', 'eu-west-1'] } },
      /residency\.DE\.1: region "eu-west-1" is not enabled/,
    ],
    ['a duplicate enabled region', { enabled: ['us-east-1', 'eu-west-1', 'us-east-1'], defaultRegion: 'us-east-1' }, /enabled\.2: region "us-east-1" is listed twice/],
    [
      'a duplicate residency region',
      { enabled: ['us-east-1', 'eu-west-1'], defaultRegion: 'us-east-1', residency: { IE: ['eu-west-1', 'eu-west-1'] } },
      /residency\.IE\.1: region "eu-west-1" is listed twice/,
    ],
    ['a draining region that is not enabled', { enabled: ['us-east-1', 'eu-west-1'], defaultRegion: 'us-east-1', draining: ['eu-west-2'] }, /draining\.0: region "eu-west-2" is not enabled/],
    ['an unknown draining region', { enabled: ['us-east-1', 'eu-west-1'], defaultRegion: 'us-east-1', draining: ['xx-west-1'] }, /draining\.0: unknown region "xx-west-1"/],
    ['every region draining', { enabled: ['us-east-1', 'eu-west-1'], defaultRegion: 'us-east-1', draining: ['eu-west-1', 'us-east-1'] }, /every enabled region is draining/],
    ['an empty residency rule', { enabled: ['us-east-1'], defaultRegion: 'us-east-1', residency: { DE: [] } }, /residency\.DE: a residency rule must allow at least one region/],
    ['a lower-case residency country', { enabled: ['us-east-1'], defaultRegion: 'us-east-1', residency: { de: ['us-east-1'] } }, /residency\.de: country "de" is not an ISO 3166-1 alpha-2 code in upper case/],
    ['a negative fallbackCount', { enabled: ['us-east-1'], defaultRegion: 'us-east-1', fallbackCount: -1 }, /fallbackCount/],
    ['a fractional fallbackCount', { enabled: ['us-east-1'], defaultRegion: 'us-east-1', fallbackCount: 1.5 }, /fallbackCount/],
    ['a huge fallbackCount', { enabled: ['us-east-1'], defaultRegion: 'us-east-1', fallbackCount: 11 }, /fallbackCount/],
    ['an unknown ranking', { enabled: ['us-east-1'], defaultRegion: 'us-east-1', ranking: 'fastest' }, /ranking/],
    ['a misspelt key', { enabled: ['us-east-1'], defaultRegion: 'us-east-1', drainng: ['us-east-1'] }, /drainng/],
    ['a missing default region', { enabled: ['us-east-1'] }, /defaultRegion/],
    ['a region that is not a string', { enabled: ['us-east-1', 7], defaultRegion: 'us-east-1' }, /enabled\.1/],
    ['no policy at all', null, /\(policy\)/],
  ])('rejects %s, naming it', (_what, policy, expected) => {
    // Prepare
    const compile = (): unknown => compileRegionPolicy(policy);

    // Act
    const problems = problemsOf(policy);

    // Assess
    expect(compile).toThrow(InvalidRegionPolicy);
    expect(problems.join('\n')).toMatch(expected);
  });

  it('reports every problem at once, as a ConfigError that keeps the zod error as cause', () => {
    // Prepare
    const policy = { enabled: ['us-east-1', 'nowhere-1'], defaultRegion: 'eu-west-1', draining: ['eu-west-2'] };

    // Act
    let caught: unknown;
    try {
      compileRegionPolicy(policy);
    } catch (error) {
      caught = error;
    }

    // Assess
    expect(caught).toBeInstanceOf(InvalidRegionPolicy);
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as InvalidRegionPolicy;
    expect(error.name).toBe('InvalidRegionPolicy');
    expect(error.cause).toBeInstanceOf(ZodError);
    expect(error.problems).toHaveLength(3);
    expect(error.message).toContain('"nowhere-1"');
    expect(error.message).toContain('"eu-west-1"');
    expect(error.message).toContain('"eu-west-2"');
  });
});
