import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideRegion, DEFAULT_MEASUREMENT_MARGIN, offeredRegions } from '@global-iot/core/measured-choice.js';
import { parseMeasurements } from '@global-iot/core/measurements.js';
import { compileRegionPolicy, type RegionChoice } from '@global-iot/core/region-choice.js';

/** The chooser's answer for a device in Frankfurt with every European region but Madrid enabled. */
const CHOICE: RegionChoice = { region: 'eu-central-1', reason: 'nearest', fallbacks: ['eu-west-3', 'eu-west-2'] };

describe('decideRegion', () => {
  it('moves the device to a region measured faster by more than the margin', () => {
    // Prepare: Paris 20 ms faster than Frankfurt's 60 (needs max(5, 6)).
    const measured = [
      { region: 'eu-central-1', ms: 60 },
      { region: 'eu-west-3', ms: 40 },
      { region: 'eu-west-2', ms: 45 },
    ];

    // Act
    const decision = decideRegion(CHOICE, measured);

    // Assess
    expect(decision).toEqual({ region: 'eu-west-3', basis: 'measurement', measuredMs: 40 });
  });

  it.each<[string, number, number, string]>([
    // The ratio decides above 50 ms, the floor of 5 ms below.
    ['10% of 100 ms: exactly the margin switches', 100, 90, 'eu-west-3'],
    ['just inside 10% of 100 ms: keeps the model', 100, 90.1, 'eu-central-1'],
    ['5 ms of 30 ms: exactly the floor switches', 30, 25, 'eu-west-3'],
    ['4.9 ms of 30 ms: keeps the model', 30, 25.1, 'eu-central-1'],
  ])('%s', (_why, nearestMs, otherMs, expected) => {
    // Prepare
    const measured = [
      { region: 'eu-central-1', ms: nearestMs },
      { region: 'eu-west-3', ms: otherMs },
    ];

    // Act
    const decision = decideRegion(CHOICE, measured, DEFAULT_MEASUREMENT_MARGIN);

    // Assess
    expect(decision.region).toBe(expected);
  });

  it('keeps the model when its region is fastest', () => {
    // Prepare
    const measured = [
      { region: 'eu-central-1', ms: 12 },
      { region: 'eu-west-3', ms: 30 },
    ];

    // Act
    const decision = decideRegion(CHOICE, measured);

    // Assess
    expect(decision).toEqual({ region: 'eu-central-1', basis: 'model', measuredMs: 12, kept: 'nearest-fastest' });
  });

  it('keeps the model when its region was not measured: nothing shows another is better', () => {
    // Prepare
    const measured = [{ region: 'eu-west-3', ms: 10 }];

    // Act
    const decision = decideRegion(CHOICE, measured);

    // Assess
    expect(decision).toEqual({ region: 'eu-central-1', basis: 'model', kept: 'nearest-not-measured' });
  });

  it.each(['pinned', 'preferred'] as const)('never overrides a %s region', (reason) => {
    // Prepare
    const measured = [
      { region: 'eu-central-1', ms: 300 },
      { region: 'eu-west-3', ms: 10 },
    ];

    // Act
    const decision = decideRegion({ ...CHOICE, reason }, measured);

    // Assess
    expect(decision).toMatchObject({ region: 'eu-central-1', basis: 'model', kept: reason });
  });

  it('improves on a device with no location, sent to the default region', () => {
    // Prepare
    const measured = [
      { region: 'us-east-1', ms: 180 },
      { region: 'eu-central-1', ms: 25 },
    ];

    // Act
    const decision = decideRegion({ region: 'us-east-1', reason: 'default', fallbacks: ['eu-central-1'] }, measured);

    // Assess
    expect(decision).toEqual({ region: 'eu-central-1', basis: 'measurement', measuredMs: 25 });
  });

  it('breaks a tie between fast regions in the order they were offered', () => {
    // Prepare
    const measured = [
      { region: 'eu-central-1', ms: 80 },
      { region: 'eu-west-2', ms: 20 },
      { region: 'eu-west-3', ms: 20 },
    ];

    // Act
    const decision = decideRegion(CHOICE, measured);

    // Assess
    expect(decision.region).toBe('eu-west-3');
  });

  it('never leaves the residency list nor enters a draining region, whatever the figures', () => {
    // Prepare: DE may use only Frankfurt and Dublin; Paris drains.
    const chooser = compileRegionPolicy({
      enabled: ['eu-central-1', 'eu-west-1', 'eu-west-3', 'us-east-1'],
      defaultRegion: 'us-east-1',
      draining: ['eu-west-3'],
      residency: { DE: ['eu-central-1', 'eu-west-1', 'eu-west-3'] },
      fallbackCount: 3,
    });
    const choice = chooser.choose({ location: { lat: 50.12, lon: 8.68, country: 'DE' } });
    const offered = offeredRegions(choice);
    const regions = ['eu-central-1', 'eu-west-1', 'eu-west-3', 'us-east-1'];
    const figures = fc.uniqueArray(fc.record({ region: fc.constantFrom(...regions), tenths: fc.integer({ min: 10, max: 100_000 }) }), {
      selector: (m) => m.region,
      minLength: 1,
    });

    fc.assert(
      fc.property(figures, (raw) => {
        // Act
        const measurements = raw.map(({ region, tenths }) => ({ region, ms: tenths / 10 }));
        let decided: string;
        try {
          decided = decideRegion(choice, parseMeasurements(measurements, offered)).region;
        } catch {
          // Assess: figures for a region that was not offered never get as far as a decision.
          expect(measurements.some((m) => !offered.includes(m.region))).toBe(true);
          return;
        }

        // Assess
        expect(['eu-central-1', 'eu-west-1']).toContain(decided);
      }),
      { numRuns: 300 },
    );
    expect(offered).toEqual(['eu-central-1', 'eu-west-1']);
  });
});
