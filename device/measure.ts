import { MAX_MEASUREMENT_MS, type Measurement, MIN_MEASUREMENT_MS } from '@global-iot/core/measurements.js';
import type { HandshakeProbe } from './handshake-probe.js';
import type { MqttTarget } from './mqtt.js';

/**
 * Measuring the candidate regions the bootstrap offered: a few handshakes to each, every region
 * at once, all within one bounded time, so that the second bootstrap request can carry what this
 * device's network says rather than what a map says.
 */

export interface MeasureSettings {
  /** Off: the device takes the first answer, as a device without this feature does. */
  readonly enabled: boolean;
  /** Handshakes per region; the fastest counts (the others carry queueing, not distance). */
  readonly probes: number;
  /** The whole measurement's time: every region's probes together, never longer. */
  readonly timeoutMs: number;
}

export const DEFAULT_MEASURE_SETTINGS: MeasureSettings = Object.freeze({ enabled: true, probes: 3, timeoutMs: 2_000 });

/** Named bounds, shared by the settings schema and the README. */
export const MEASURE_LIMITS = { probes: { min: 1, max: 10 }, timeoutMs: { min: 100, max: 30_000 } } as const;

export interface MeasureDeps {
  readonly probe: HandshakeProbe;
  /** A monotonic clock in ms. */
  readonly now: () => number;
}

export interface MeasureOutcome {
  /** One figure per region with at least one successful probe, in the order offered. */
  readonly measurements: Measurement[];
  /** Regions no probe reached within the time. */
  readonly unreached: string[];
}

/**
 * A handshake time as the bootstrap takes it: up to the next 0.1 ms (so it never flatters a
 * region), at least 1 ms (a loopback), at most 10 s.
 */
export function toFigure(ms: number): number {
  const tenths = Math.ceil(Math.round(ms * 1000) / 100);
  return Math.min(MAX_MEASUREMENT_MS, Math.max(MIN_MEASUREMENT_MS, tenths / 10));
}

/** One region's probes, one after another (in parallel they would queue behind each other), until the deadline. */
async function probeRegion(target: MqttTarget, settings: MeasureSettings, deps: MeasureDeps, deadline: number): Promise<number | undefined> {
  let best: number | undefined;
  for (let i = 0; i < settings.probes; i++) {
    const left = deadline - deps.now();
    if (left <= 0) break;
    try {
      const ms = await deps.probe(target, left);
      best = best === undefined ? ms : Math.min(best, ms);
    } catch {
      // A failed probe says nothing about the path; the next one may get through.
    }
  }
  return best;
}

/** Measures every target at once; never throws, never takes much longer than `timeoutMs`. */
export async function measureTargets(targets: readonly MqttTarget[], settings: MeasureSettings, deps: MeasureDeps): Promise<MeasureOutcome> {
  const deadline = deps.now() + settings.timeoutMs;
  const results = await Promise.all(targets.map((target) => probeRegion(target, settings, deps, deadline)));
  const measurements: Measurement[] = [];
  const unreached: string[] = [];
  targets.forEach((target, i) => {
    const ms = results[i];
    if (ms === undefined) unreached.push(target.region);
    else measurements.push({ region: target.region, ms: toFigure(ms) });
  });
  return { measurements, unreached };
}
