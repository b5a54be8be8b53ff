import { describe, expect, it } from 'vitest';
import type { DeviceOutcome } from '@global-iot/local/fleet/outcome.js';
import { createProgressBar } from '@global-iot/local/fleet/progress.js';
import { renderReport } from '@global-iot/local/fleet/report.js';
import { formatSummary, percentile, summarize } from '@global-iot/local/fleet/summary.js';

function ok(i: number, region: string, total: number): DeviceOutcome {
  return { thingName: `d${i}`, sourceIp: '8.8.8.8', ok: true, region, steps: { bootstrap: i, connect: 2 * i }, totalMs: total };
}

function failed(i: number, step: string, code: string, status: number): DeviceOutcome {
  return {
    thingName: `f${i}`,
    sourceIp: '8.8.8.8',
    ok: false,
    steps: { bootstrap: 1 },
    totalMs: 5,
    failure: { step, name: 'AwsRejected', code, status, message: 'no' },
  };
}

describe('percentile', () => {
  it.each([
    [50, 50],
    [99, 99],
    [100, 100],
    [1, 1],
  ])('p%i of 1..100 is %i (nearest rank)', (p, expected) => {
    // Prepare
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);

    // Act
    const value = percentile(sorted, p);

    // Assess
    expect(value).toBe(expected);
  });

  it('is NaN for no samples', () => {
    // Act
    const value = percentile([], 50);

    // Assess
    expect(value).toBeNaN();
  });
});

describe('summarize', () => {
  it('counts regions and failure causes, and takes percentiles per step and end to end', () => {
    // Prepare
    const outcomes = [
      ...Array.from({ length: 10 }, (_, i) => ok(i + 1, i < 7 ? 'eu-central-1' : 'us-east-1', 100 + i)),
      failed(1, 'register-thing', 'AccessDenied', 403),
      failed(2, 'register-thing', 'AccessDenied', 403),
      failed(3, 'bootstrap', 'UNAUTHORIZED', 401),
      { ...ok(11, 'us-east-1', 110), retries: { 'register-thing': 2, bootstrap: 1 } },
    ];

    // Act
    const summary = summarize({ outcomes, elapsedMs: 2_000, concurrency: 4 });

    // Assess
    expect(summary).toMatchObject({
      devices: 14,
      provisioned: 11,
      failed: 3,
      devicesPerSecond: 5.5,
      perRegion: { 'eu-central-1': 7, 'us-east-1': 4 },
      failuresByCause: { 'register-thing: AccessDenied (403)': 2, 'bootstrap: UNAUTHORIZED (401)': 1 },
      retriesByStep: { 'register-thing': 2, bootstrap: 1 },
    });
    expect(summary.perStep.connect).toEqual({ count: 11, p50Ms: 12, p99Ms: 22 });
    expect(summary.perStep.bootstrap?.count).toBe(14);
    expect(summary.perStep.total).toEqual({ count: 11, p50Ms: 105, p99Ms: 110 });
  });

  it('prints the regions, the steps and the failures as tables', () => {
    // Prepare
    const retried = { ...ok(2, 'sa-east-1', 50), retries: { 'register-thing': 1 } };
    const summary = summarize({ outcomes: [ok(1, 'sa-east-1', 50), retried, failed(1, 'connect', 'MqttConnectFailed', 0)], elapsedMs: 1_000, concurrency: 1 });

    // Act
    const text = formatSummary(summary);

    // Assess
    expect(text).toContain('2 of 3 devices provisioned in 1.0 s (2 devices/s, 1 at a time)');
    expect(text).toMatch(/sa-east-1\s+2/);
    expect(text).toMatch(/total\s+2\s+50\.0\s+50\.0/);
    expect(text).toContain('retries: register-thing 1');
    expect(text).toMatch(/connect: MqttConnectFailed \(0\)\s+1/);
  });
});

describe('placement', () => {
  const FRANKFURT = { lat: 50.11, lon: 8.68, country: 'DE' };
  const placed = (i: number, region: string, placement: string): DeviceOutcome => ({ ...ok(i, region, 10), location: FRANKFURT, placement });
  const outcomes = [placed(1, 'eu-central-1', 'model'), placed(2, 'eu-central-1', 'model'), placed(3, 'us-east-1', 'measured'), placed(4, 'us-east-1', 'pinned')];

  it('counts, per region, the devices placed by the model and by measurement', () => {
    // Act
    const summary = summarize({ outcomes, elapsedMs: 1_000, concurrency: 1 });

    // Assess
    expect(summary.placements).toEqual({ 'eu-central-1': { model: 2 }, 'us-east-1': { measured: 1, pinned: 1 } });
    expect(formatSummary(summary)).toMatch(/us-east-1\s+2\s+0\s+1/);
  });

  it('shows them side by side on the report page: a table, a figure, and edged dots for the measured', () => {
    // Prepare
    const summary = summarize({ outcomes, elapsedMs: 1_000, concurrency: 1 });

    // Act
    const html = renderReport({ run: { outcomes, elapsedMs: 1_000, concurrency: 1 }, summary, enabledRegions: ['us-east-1', 'eu-central-1'], generatedAt: new Date(0) });

    // Assess
    expect(html).toMatch(/<b>1<\/b>placed by measurement/);
    expect(html).toMatch(/eu-central-1<\/td><td>2<\/td><td>0<\/td><td>0<\/td>/);
    expect(html).toMatch(/us-east-1<\/td><td>0<\/td><td>1<\/td><td>1<\/td>/);
    expect(html.match(/data-placement="measured"[^>]*stroke="#000"/g)).toHaveLength(1);
    expect(html.match(/data-placement="model"/g)).toHaveLength(2);
  });
});

describe('progress bar', () => {
  it('writes the first line and one per tenth when the output is not a terminal', () => {
    // Prepare
    const lines: string[] = [];
    const bar = createProgressBar({ total: 20, write: (t) => lines.push(t), isTty: false, now: () => 0, width: 10 });

    // Act
    for (let done = 1; done <= 20; done += 1) bar.update(done, done > 18 ? 1 : 0);
    bar.finish();

    // Assess
    expect(lines).toHaveLength(11);
    expect(lines.at(-1)).toBe('provisioning [##########] 20/20 100% 0/s failed 1\n');
  });

  it('redraws one line on a terminal, at most every 100 ms', () => {
    // Prepare
    const written: string[] = [];
    let clock = 0;
    const bar = createProgressBar({ total: 4, write: (t) => written.push(t), isTty: true, now: () => clock, width: 4 });
    bar.start();

    // Act
    clock = 150;
    bar.update(1, 0);
    clock = 160;
    bar.update(2, 0);
    clock = 1_000;
    bar.update(4, 0);
    bar.finish();

    // Assess
    expect(written).toHaveLength(3);
    expect(written[0]).toMatch(/^\rprovisioning \[#---\] 1\/4 25% 7\/s/);
    expect(written.at(-1)).toBe('\rprovisioning [####] 4/4 100% 4/s\x1b[K\n');
  });
});
