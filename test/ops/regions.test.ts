import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IoTClient } from '@aws-sdk/client-iot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedBootstrapRequest } from '@global-iot/core/signing.js';
import { EXIT } from '@global-iot/ops/lib/errors.js';
import { regionStatus } from '@global-iot/ops/lib/regions.js';
import { httpApiEvent, makeHarness, parseAnswer } from '../helpers/bootstrap.js';
import { OPS_REGIONS, type OpsCloud, startOpsCloud, writeTestFile } from './helpers.js';

let c: OpsCloud;
beforeAll(async () => {
  c = await startOpsCloud({ draining: ['ap-northeast-1'] });
});
afterAll(async () => {
  await c.close();
});

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;

describe('ops regions', () => {
  it('shows each region: draining, endpoint, template versions', async () => {
    // Prepare
    const file = writeTestFile(c.dir, 't.json', readFileSync('core/template/global-fleet.json', 'utf8'));
    await c.cli([
      'templates', 'deploy', '--file', file, '--regions', 'eu-central-1',
      '--role-arn', 'arn:aws:iam::123456789012:role/P', '--hook-arn', 'arn:aws:lambda:{region}:123456789012:function:hook',
    ]);
    await c.registry.setRegionDraining('eu-central-1', true);
    // Act
    const run = await c.cli(['regions', 'status', '--json']);
    const table = await c.cli(['regions', 'status']);
    // Assess
    expect(run.code).toBe(EXIT.ok);
    expect(json(run.out)['regions']).toEqual([
      { region: 'us-east-1', enabled: true, isDefault: true, draining: 'no', reachable: true, endpoint: 'localhost', template: { exists: false } },
      {
        region: 'eu-central-1',
        enabled: true,
        isDefault: false,
        draining: 'runtime',
        reachable: true,
        endpoint: 'localhost',
        template: { exists: true, enabled: true, defaultVersion: 1, versions: 1 },
      },
      { region: 'ap-northeast-1', enabled: true, isDefault: false, draining: 'config', reachable: true, endpoint: 'localhost', template: { exists: false } },
    ]);
    expect(table.out).toMatch(/us-east-1 \(default\)\s+yes\s+no\s+yes\s+localhost\s+absent/);
    expect(table.out).toMatch(/eu-central-1\s+yes\s+runtime\s+yes\s+localhost\s+v1 of 1/);
    await c.registry.setRegionDraining('eu-central-1', false);
  });

  it('reports a region whose control plane does not answer, and still shows the others (exit 3)', async () => {
    // Act
    const rows = await regionStatus({
      config: c.config,
      registry: c.registry,
      // sa-east-1 is not emulated: its calls fail as an unreachable region's would.
      iot: (region) => c.iot(region === 'ap-northeast-1' ? 'sa-east-1' : region),
      timeoutMs: 2_000,
    });
    // Assess
    expect(rows.map((r) => r.reachable)).toEqual([true, true, false]);
    expect(rows[2]?.error).toMatch(/not emulated/);
  });

  it('gives up on a region that never answers after the timeout', async () => {
    // Prepare: a server that accepts requests and never answers them.
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const hanging = new IoTClient({
      region: 'ap-northeast-1',
      endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      credentials: { accessKeyId: 't', secretAccessKey: 't' },
      maxAttempts: 1,
    });
    try {
      // Act
      const rows = await regionStatus({
        config: c.config,
        registry: c.registry,
        iot: (region) => (region === 'ap-northeast-1' ? hanging : c.iot(region)),
        timeoutMs: 300,
      });
      // Assess
      expect(rows.map((r) => r.reachable)).toEqual([true, true, false]);
      expect(rows[2]?.error).toBe('RegionTimeout: no answer within 300 ms');
    } finally {
      hanging.destroy();
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('drains and undrains a region at run time; --dry-run changes nothing; re-running is harmless', async () => {
    // Act
    const dry = await c.cli(['regions', 'drain', 'eu-central-1', '--dry-run', '--json']);
    const afterDry = await c.registry.getDrainingRegions();
    const drain = await c.cli(['regions', 'drain', 'eu-central-1']);
    const again = await c.cli(['regions', 'drain', 'eu-central-1', '--json']);
    const afterDrain = await c.registry.getDrainingRegions();
    const undrain = await c.cli(['regions', 'undrain', 'eu-central-1']);
    // Assess
    expect(json(dry.out)).toEqual({ region: 'eu-central-1', action: 'drain', changed: true, draining: ['eu-central-1'], dryRun: true });
    expect(afterDry).toEqual([]);
    expect(drain.out).toBe('drain eu-central-1; draining at run time: eu-central-1\n');
    expect(json(again.out)).toMatchObject({ changed: false });
    expect(afterDrain).toEqual(['eu-central-1']);
    expect(undrain.out).toBe('undrain eu-central-1; draining at run time: none\n');
    expect(await c.registry.getDrainingRegions()).toEqual([]);
  });

  it('refuses a region that is not enabled, and draining the last open region without --force (exit 2)', async () => {
    // Act
    const notEnabled = await c.cli(['regions', 'drain', 'eu-west-1']);
    const notRegion = await c.cli(['regions', 'drain', 'moon-1']);
    await c.cli(['regions', 'drain', 'eu-central-1']);
    const last = await c.cli(['regions', 'drain', 'us-east-1']);
    const afterRefusal = await c.registry.getDrainingRegions();
    const forced = await c.cli(['regions', 'drain', 'us-east-1', '--force']);
    // Assess
    expect(notEnabled.code).toBe(EXIT.usage);
    expect(notEnabled.err).toMatch(/eu-west-1 is not an enabled region/);
    expect(notRegion.code).toBe(EXIT.usage);
    expect(last.code).toBe(EXIT.usage);
    expect(last.err).toMatch(/would leave no region for new devices/);
    expect(afterRefusal).toEqual(['eu-central-1']);
    expect(forced.code).toBe(EXIT.ok);
    expect(await c.registry.getDrainingRegions()).toEqual(['eu-central-1', 'us-east-1']);
    await c.registry.setRegionDraining('us-east-1', false);
    await c.registry.setRegionDraining('eu-central-1', false);
  });

  it('is honoured by the bootstrap: a drained default region gets no new devices until undrained', async () => {
    // Prepare
    const h = makeHarness({ registry: c.registry, now: Date.now, config: { regions: [...OPS_REGIONS], defaultRegion: 'us-east-1' } });
    await c.cli(['enroll', 'drain-dev-1']);
    await c.cli(['enroll', 'drain-dev-2']);
    // A private source address has no location: the device goes to the default region.
    const ask = async (thing: string) =>
      parseAnswer(await h.handler(httpApiEvent(signedBootstrapRequest(h.fleetKey, thing, Date.now()), { sourceIp: '10.1.2.3' })));
    // Act
    await c.cli(['regions', 'drain', 'us-east-1']);
    const drained = await ask('drain-dev-1');
    await c.cli(['regions', 'undrain', 'us-east-1']);
    const open = await ask('drain-dev-2');
    // Assess
    expect(drained['status']).toBe('success');
    expect(drained['region']).not.toBe('us-east-1');
    expect(JSON.stringify(drained['fallbacks'])).not.toContain('us-east-1');
    expect(open['region']).toBe('us-east-1');
  });
});
