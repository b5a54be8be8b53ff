import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveGeoTablePath } from '@global-iot/core/geo/index.js';
import { DEFAULT_REGIONS } from '@global-iot/local/cloud.js';
import { loadFigures, type LoadReport, runLoad } from './support/load.js';
import { reliabilityScale } from './support/scale.js';

/**
 * Load: many devices through the product on the local cloud, a bounded number at a time, from
 * addresses on five continents. Nothing may be lost: every device provisioned exactly once, in
 * the region the registry names, with the certificate the registry recorded; no ACTIVE
 * certificate that no record accounts for; memory that grows with the stored state only; no
 * secret in any log line.
 */

const scale = reliabilityScale();
/** Retained state (region registries, dynalite items) is about 5 KiB a device; a leaked connection would be tens. */
const MAX_HEAP_GROWTH_PER_DEVICE_BYTES = 16 * 1024;

describe(`load (${scale.name}: ${scale.loadDevices} devices, ${scale.loadConcurrency} at a time)`, () => {
  let report: LoadReport;

  it('provisions every device exactly once, and the registry and every region agree', { timeout: scale.name === 'full' ? 3_600_000 : 120_000 }, async () => {
    // Prepare
    const progressEvery = Math.max(1_000, Math.floor(scale.loadDevices / 10));
    let reported = 0;

    // Act
    report = await runLoad({
      devices: scale.loadDevices,
      concurrency: scale.loadConcurrency,
      onProgress: (done) => {
        if (scale.name !== 'full' || done - reported < progressEvery) return;
        reported = done;
        process.stderr.write(`load: ${done} devices done\n`);
      },
    });
    console.log(JSON.stringify(loadFigures(report)));
    if (report.errorLogLines.length > 0) console.log(`error lines: ${report.errorLogLines.join('\n')}`);

    // Assess
    expect(report.failures).toEqual([]);
    expect(report.audit.problems).toEqual([]);
    const total = scale.loadDevices + report.warmUpDevices;
    expect(report.audit).toMatchObject({ records: total, provisioned: total, awaitingConfirmation: 0, retryable: 0, orphanActiveCertificates: 0 });
  });

  it('places devices in the region nearest their address', () => {
    // Prepare
    const geolocated = existsSync(resolveGeoTablePath());
    const perRegion = (scale.loadDevices + report.warmUpDevices) / DEFAULT_REGIONS.length;

    // Act
    const byRegion = report.audit.byRegion;

    // Assess
    if (geolocated) expect(byRegion).toEqual(Object.fromEntries(DEFAULT_REGIONS.map((r) => [r, perRegion])));
    else expect(byRegion).toEqual({ 'us-east-1': scale.loadDevices + report.warmUpDevices });
  });

  it('keeps the cloud process memory flat: growth is the stored state, and it does not accelerate', () => {
    // Prepare
    const { memory } = report;

    // Act
    const perDevice = memory.growthPerDeviceBytes;

    // Assess
    expect(memory.samples.length).toBeGreaterThanOrEqual(40);
    expect(perDevice).toBeLessThan(MAX_HEAP_GROWTH_PER_DEVICE_BYTES);
    // Small runs are too short for a trend: the last half's growth is compared only at full scale.
    if (scale.name === 'full') {
      expect(memory.lateGrowthPerDeviceBytes).toBeLessThan(MAX_HEAP_GROWTH_PER_DEVICE_BYTES);
      expect(memory.acceleration).toBeLessThan(2);
    }
  });

  it('writes no private key, ticket or signature into any log line', () => {
    // Prepare
    const { logLines, secretsWatched } = report;

    // Act
    const leaks = report.logViolationExamples;

    // Assess
    expect(logLines).toBeGreaterThan(scale.loadDevices * 4);
    expect(secretsWatched).toBeGreaterThanOrEqual(scale.loadDevices * 3);
    expect(leaks).toEqual([]);
  });
});
