import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeThingCommand } from '@aws-sdk/client-iot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getIotClient } from '@global-iot/core/endpoints.js';
import { type DemoResult, runFleetDemo } from '@global-iot/local/fleet/demo.js';
import { parseDemoArgs } from '@global-iot/local/fleet/main.js';
import { type ProductCloud, startProductCloud } from '../../device/support/cloud.js';

/**
 * `npm start -- --scenario drain` on a handful of devices: the fleet, then its fullest region
 * drained with migration; the devices boot again and move (the device client, the bootstrap,
 * the hook and the confirmation of the product, through the local cloud); the registry, AWS IoT's
 * emulation and the report page say where each device was and is.
 */

const REGIONS = ['us-east-1', 'eu-central-1', 'ap-northeast-1'];

let cloud: ProductCloud;
let workDir: string;
let demo: DemoResult;
let stdout = '';

beforeAll(async () => {
  cloud = await startProductCloud(REGIONS);
  workDir = mkdtempSync(join(tmpdir(), 'fleet-drain-'));
  demo = await runFleetDemo(
    cloud.cloud,
    {
      devices: 8,
      concurrency: 4,
      certificateMode: 'mixed',
      protocol: 'mqtt311',
      workDir,
      reportPath: join(workDir, 'report.html'),
      inProcess: false,
      drain: { ratePerSecond: 50 },
    },
    { stdout: (t) => (stdout += t), stderr: () => undefined, stderrIsTty: false },
  );
}, 180_000);

afterAll(async () => {
  await cloud?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('fleet demo, drain scenario', () => {
  it('drains the region that took the most devices and moves every one of its devices elsewhere', async () => {
    // Prepare
    const drain = demo.drain;
    const counts = Object.entries(demo.summary.perRegion).sort((a, b) => b[1] - a[1]);

    // Assess
    expect(demo.exitCode).toBe(0);
    expect(drain?.region).toBe(counts[0]?.[0]);
    expect(drain?.devices.length).toBe(counts[0]?.[1]);
    expect(drain?.moved).toBe(drain?.devices.length);
    expect(drain?.stayed).toBe(0);
    expect(await cloud.registry.getDrainingRegions()).toEqual([drain?.region]);
    for (const device of drain?.devices ?? []) {
      expect(device).toMatchObject({ from: drain?.region, status: 'provisioned', asked: 'requested', boot: 'moved' });
      expect(device.now).not.toBe(drain?.region);
      expect(device.moveMs).toBeGreaterThan(0);
    }
  });

  it('leaves the registry with the move in each history and the old thing deleted in the drained region', async () => {
    // Prepare
    const drain = demo.drain;
    const iot = getIotClient(drain?.region ?? '', { endpoint: cloud.cloud.iotControlEndpoint });

    // Assess
    for (const device of drain?.devices ?? []) {
      const record = await cloud.registry.get(device.thingName);
      expect(record).toMatchObject({ prov_status: 'provisioned', aws_region: device.now });
      expect(record?.history?.at(-1)).toMatchObject({ kind: 'move', from: drain?.region, to: device.now, why: `drain ${drain?.region ?? ''}` });
      expect(record?.cleanup_pending).toBeUndefined();
      await expect(iot.send(new DescribeThingCommand({ thingName: device.thingName }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    }
  });

  it('prints the result and shows it on the report page: where each device was, where it is, how long its move took', () => {
    // Act
    const html = readFileSync(demo.reportPath, 'utf8');
    const drain = demo.drain;

    // Assess
    expect(stdout).toContain(`$ iot-ops regions drain ${drain?.region ?? ''} --migrate --rate 50/s`);
    expect(stdout).toMatch(new RegExp(`${drain?.moved ?? -1} moved \\(.+\\), 0 still in`));
    expect(html).toContain(`Drain of ${drain?.region ?? ''} with migration`);
    expect(html.match(/class="drained-device"/g)).toHaveLength(drain?.devices.length ?? -1);
    expect(html.match(/class="region drained"/g)).toHaveLength(1);
    // The first map still shows every device where it was provisioned.
    expect(html.match(/class="device"/g)).toHaveLength(8 + (drain?.devices.length ?? 0));
    expect(html).not.toMatch(/<script|\bsrc=|<link|href="http/);
  });

  it('keeps the devices signing keys readable by this user only', () => {
    // Assess
    expect(statSync(join(workDir, 'fleet', 'devices.json')).mode & 0o777).toBe(0o600);
  });
});

describe('fleet demo options', () => {
  it('takes --scenario drain with a region and a rate, and refuses drain options without it', () => {
    // Act
    const args = parseDemoArgs(['--scenario', 'drain', '--drain-region', 'eu-central-1', '--move-rate', '10'], () => undefined);
    const plain = parseDemoArgs([], () => undefined);

    // Assess
    expect(args).toMatchObject({ drain: { region: 'eu-central-1', ratePerSecond: 10 } });
    expect(plain).not.toHaveProperty('drain');
    expect(() => parseDemoArgs(['--drain-region', 'eu-central-1'], () => undefined)).toThrow(/are for --scenario drain/);
    expect(() => parseDemoArgs(['--scenario', 'shuffle'], () => undefined)).toThrow(/shuffle/);
    expect(() => parseDemoArgs(['--scenario', 'drain', '--move-rate', '0'], () => undefined)).toThrow(/--move-rate/);
  });
});
