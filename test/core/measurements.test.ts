import { describe, expect, it } from 'vitest';
import { InvalidInput } from '@global-iot/core/errors.js';
import { InvalidMeasurements, MAX_MEASUREMENTS, parseMeasurements } from '@global-iot/core/measurements.js';
import { MAX_FALLBACK_COUNT } from '@global-iot/core/region-choice.js';

const OFFERED = ['eu-central-1', 'eu-west-3', 'us-east-1'];

describe('parseMeasurements', () => {
  it('accepts figures for offered regions, in ms with at most one decimal', () => {
    // Prepare
    const raw = [
      { region: 'us-east-1', ms: 95 },
      { region: 'eu-central-1', ms: 23.4 },
      { region: 'eu-west-3', ms: 1 },
    ];

    // Act
    const parsed = parseMeasurements(raw, OFFERED);

    // Assess
    expect(parsed).toEqual(raw);
  });

  it('accepts the limits: 1 ms and 10 s', () => {
    // Prepare
    const raw = [
      { region: 'eu-central-1', ms: 1 },
      { region: 'us-east-1', ms: 10_000 },
    ];

    // Act
    const parsed = parseMeasurements(raw, OFFERED);

    // Assess
    expect(parsed).toHaveLength(2);
  });

  it.each<[string, unknown, RegExp]>([
    ['a region that was not offered', [{ region: 'ap-south-1', ms: 20 }], /ap-south-1: not one of the offered regions \(eu-central-1, eu-west-3, us-east-1\)/],
    ['a region measured twice', [{ region: 'eu-central-1', ms: 20 }, { region: 'eu-central-1', ms: 21 }], /eu-central-1: measured twice/],
    ['under 1 ms', [{ region: 'eu-central-1', ms: 0.9 }], /0\.9 ms is outside 1 to 10000 ms/],
    ['0 ms', [{ region: 'eu-central-1', ms: 0 }], /outside 1 to 10000/],
    ['a negative time', [{ region: 'eu-central-1', ms: -5 }], /outside 1 to 10000/],
    ['over 10 s', [{ region: 'eu-central-1', ms: 10_000.1 }], /outside 1 to 10000/],
    ['two decimals', [{ region: 'eu-central-1', ms: 23.45 }], /23\.45 ms has more than one decimal/],
    ['a time as text', [{ region: 'eu-central-1', ms: '23' }], /measurements\[0\]\[ms\]/],
    ['NaN', [{ region: 'eu-central-1', ms: Number.NaN }], /measurements\[0\]\[ms\]/],
    ['infinity', [{ region: 'eu-central-1', ms: Number.POSITIVE_INFINITY }], /measurements\[0\]\[ms\]/],
    ['a malformed region', [{ region: 'EU-CENTRAL-1', ms: 20 }], /not an AWS region code/],
    ['a region with a line break', [{ region: 'eu-central-1\nus-east-1', ms: 20 }], /not an AWS region code/],
    ['an extra field', [{ region: 'eu-central-1', ms: 20, probes: 3 }], /probes/],
    ['an empty list', [], /send no measurements field rather than an empty list/],
    ['an object instead of a list', { 'eu-central-1': 20 }, /measurements/],
    ['too many figures', Array.from({ length: MAX_MEASUREMENTS + 1 }, (_, i) => ({ region: `eu-west-${i + 1}`, ms: 20 })), /at most 11 measurements/],
  ])('refuses %s, naming it', (_what, raw, expected) => {
    // Prepare
    const parse = (): unknown => parseMeasurements(raw, OFFERED);

    // Act / Assess
    expect(parse).toThrow(InvalidMeasurements);
    expect(parse).toThrow(expected);
  });

  it('is an InvalidInput, so the bootstrap answers 400 and changes nothing', () => {
    // Prepare
    let caught: unknown;

    // Act
    try {
      parseMeasurements([{ region: 'ap-south-1', ms: 20 }], OFFERED);
    } catch (error) {
      caught = error;
    }

    // Assess
    expect(caught).toBeInstanceOf(InvalidInput);
    expect((caught as Error).name).toBe('InvalidMeasurements');
  });

  it('allows one figure for the chosen region and each fallback the policy may give', () => {
    // Prepare / Act / Assess
    expect(MAX_MEASUREMENTS).toBe(1 + MAX_FALLBACK_COUNT);
  });
});
