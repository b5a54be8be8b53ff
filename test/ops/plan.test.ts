import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeploymentConfigInput, parseDeploymentConfig } from '@global-iot/core/config.js';
import { DeviceRegistry } from '@global-iot/core/registry/index.js';
import { type LocalCloud, startLocalCloud } from '@global-iot/local/cloud.js';
import { silentLogger } from '@global-iot/local/log.js';
import { productWiring } from '@global-iot/local/product.js';
import { runCli } from '@global-iot/ops/cli.js';
import { captureIo, type CliRun, OPS_REGIONS } from './helpers.js';

/**
 * `iot-ops plan` against the local cloud running the product in demo mode: the plan from the CSV,
 * the registry (pins, states, drained regions) and the configuration; then `--simulate`, the
 * same devices through the real bootstrap, compared with the plan.
 */

// Frankfurt, Tokyo, Sao Paulo, and a private address (no location: the default region).
const FRANKFURT = '194.25.0.10';
const TOKYO = '202.12.27.40';
const SAO_PAULO = '200.160.0.20';
const PRIVATE = '10.1.2.3';

/** The cloud's configuration: admission at 2 new devices a second per region, so that a dozen queue. */
const CLOUD_CONFIG: DeploymentConfigInput = {
  homeRegion: 'us-east-1',
  regions: [...OPS_REGIONS],
  defaultRegion: 'us-east-1',
  tableName: `plan-${randomUUID().slice(0, 8)}`,
  admission: { enabled: true, registerThingQuotaTps: 2, safetyFactor: 1 },
};

let dir: string;
let cloud: LocalCloud;
let client: DynamoDBClient;
let registry: DeviceRegistry;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ops-plan-'));
  cloud = await startLocalCloud({
    regions: [...OPS_REGIONS],
    pkiDir: join(dir, 'pki'),
    demo: true,
    log: silentLogger,
    wire: productWiring({ keysDir: join(dir, 'keys'), log: silentLogger, config: parseDeploymentConfig(CLOUD_CONFIG) }),
  });
  client = new DynamoDBClient({ region: 'us-east-1', endpoint: cloud.dynamo?.endpoint ?? '', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  registry = new DeviceRegistry({ client, tableName: String(CLOUD_CONFIG.tableName) });
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await cloud?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The CLI in process against the cloud, with `config` as its --config. */
async function ops(argv: readonly string[], config: DeploymentConfigInput = CLOUD_CONFIG): Promise<CliRun> {
  const configPath = file(`config-${randomUUID().slice(0, 6)}.json`, JSON.stringify(config));
  const io = captureIo();
  const code = await runCli(['--config', configPath, '--endpoint-dynamodb', cloud.dynamo?.endpoint ?? '', '--quiet', ...argv], { io, env: {}, cwd: dir });
  return { code, out: io.out, err: io.err };
}

const simulateFlags = (): string[] => ['--simulate', '--bootstrap-url', `${cloud.bootstrapUrl ?? ''}/bootstrap`, '--ca', cloud.paths.rootCa];

interface JsonPlan {
  devices: { thingName: string; region?: string; placement?: string; note?: string; status: string }[];
  perRegion: { region: string; devices: number; ceiling: number; seconds: number }[];
  leastTimeSeconds: number;
  simulation?: { total: number; matched: number; mismatched: number; refusals: number; mismatches: { thingName: string; predicted?: string; actual?: string }[] };
}

describe('iot-ops plan', () => {
  it('places each device, counts them per region, and gives the least time under the ceilings', async () => {
    // Prepare: 5 in Frankfurt, 2 in Tokyo, one private address.
    const rows = [
      ...Array.from({ length: 5 }, (_, i) => `fra-${i},${FRANKFURT}`),
      `tyo-0,${TOKYO}`,
      `tyo-1,${TOKYO}`,
      `lan-0,${PRIVATE}`,
    ];
    const csv = file('devices.csv', `thing_name,source_ip\n${rows.join('\n')}\n`);

    // Act
    const run = await ops(['plan', csv, '--json']);

    // Assess
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.out) as JsonPlan;
    const regionOf = (name: string) => plan.devices.find((d) => d.thingName === name);
    expect(regionOf('fra-0')).toMatchObject({ region: 'eu-central-1', placement: 'model', status: 'not-enrolled' });
    expect(regionOf('tyo-0')?.region).toBe('ap-northeast-1');
    expect(regionOf('lan-0')).toMatchObject({ region: 'us-east-1', placement: 'default' });
    expect(plan.perRegion).toEqual([
      { region: 'ap-northeast-1', devices: 2, ceiling: 2, seconds: 1 },
      { region: 'eu-central-1', devices: 5, ceiling: 2, seconds: 3 },
      { region: 'us-east-1', devices: 1, ceiling: 2, seconds: 1 },
    ]);
    expect(plan.leastTimeSeconds).toBe(3);
  });

  it('uses the registry: a pin wins, a provisioned device takes no part, a drained region gets none', async () => {
    // Prepare
    await registry.enroll({ thingName: 'pinned-0', pinnedRegion: 'ap-northeast-1' });
    await registry.enroll({ thingName: 'done-0' });
    await registry.assign({ thingName: 'done-0', expectedStatus: 'unprovisioned', region: 'eu-central-1', ticketId: 't', ticketExpiresAt: Date.now() + 60_000 });
    await registry.beginProvisioning({ thingName: 'done-0', region: 'eu-central-1', ticketId: 't', certificateId: 'c'.repeat(64), maxAttempts: 3 });
    await registry.confirm('done-0', 'c'.repeat(64), 'eu-central-1');
    await registry.setRegionDraining('eu-central-1', true);
    const csv = file('registry.csv', `source_ip,thing_name\n${FRANKFURT},pinned-0\n${FRANKFURT},done-0\n${FRANKFURT},new-0\n`);

    // Act
    let run: CliRun;
    try {
      run = await ops(['plan', csv, '--json']);
    } finally {
      await registry.setRegionDraining('eu-central-1', false);
    }

    // Assess
    const plan = JSON.parse(run.out) as JsonPlan;
    const byName = Object.fromEntries(plan.devices.map((d) => [d.thingName, d]));
    expect(byName['pinned-0']).toMatchObject({ region: 'ap-northeast-1', placement: 'pinned', status: 'unprovisioned' });
    expect(byName['done-0']).toMatchObject({ status: 'provisioned', note: expect.stringMatching(/already provisioned/) });
    expect(byName['new-0']?.region).not.toBe('eu-central-1');
    expect(plan.perRegion.reduce((sum, r) => sum + r.devices, 0)).toBe(2);
  });

  it('prints a table for people', async () => {
    // Prepare
    const csv = file('table.csv', `thing_name,source_ip\nfra-t,${FRANKFURT}\n`);

    // Act
    const run = await ops(['plan', csv]);

    // Assess
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/fra-t\s+194\.25\.0\.10\s+DE\s+eu-central-1\s+model/);
    expect(run.out).toContain('least time to provision them all under the admission ceilings: 1 s');
  });

  it.each([
    ['a bad address and a bad name, naming their lines', 'thing_name,source_ip\nok-1,8.8.8.8\nbad name,8.8.8.8\nok-2,999.1.1.1\n', /line 3: thing_name.*\n.*line 4: source_ip/],
    ['a name listed twice', 'thing_name,source_ip\na,8.8.8.8\na,8.8.4.4\n', /line 3: thing_name: a is listed twice/],
    ['a header without source_ip', 'thing_name,ip\na,8.8.8.8\n', /the header must name thing_name and source_ip/],
  ])('refuses %s (exit 2), planning nothing', async (_label, text, message) => {
    // Prepare
    const csv = file(`bad-${randomUUID().slice(0, 6)}.csv`, text);

    // Act
    const run = await ops(['plan', csv]);

    // Assess
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
    expect(run.out).toBe('');
  });

  it('refuses --simulate without the local cloud\'s DynamoDB, before reading anything', async () => {
    // Prepare
    const io = captureIo();

    // Act
    const code = await runCli(['plan', 'nowhere.csv', ...simulateFlags()], { io, env: {}, cwd: dir });

    // Assess
    expect(code).toBe(2);
    expect(io.err).toContain('--simulate runs through the local cloud');
  });
});

describe('iot-ops plan --simulate', () => {
  it('runs the devices through the local cloud: every one where planned, the refused ones told when to come back', async () => {
    // Prepare: 6 in Frankfurt at a ceiling of 2 a second.
    const rows = [...Array.from({ length: 6 }, (_, i) => `sim-fra-${i},${FRANKFURT}`), `sim-tyo-0,${TOKYO}`, `sim-sao-0,${SAO_PAULO}`];
    const csv = file('simulate.csv', `thing_name,source_ip\n${rows.join('\n')}\n`);

    // Act
    const run = await ops(['plan', csv, '--json', ...simulateFlags()]);

    // Assess
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.out) as JsonPlan;
    expect(plan.simulation).toMatchObject({ total: 8, matched: 8, mismatched: 0 });
    expect(plan.simulation?.refusals).toBeGreaterThan(0);
    expect(await registry.get('sim-fra-0')).toBeUndefined();
  }, 60_000);

  it('lists the devices that land elsewhere than planned, and exits 3', async () => {
    // Prepare: the plan's configuration keeps German devices in us-east-1; the cloud's does not.
    const csv = file('mismatch.csv', `thing_name,source_ip\nmis-fra,${FRANKFURT}\nmis-tyo,${TOKYO}\n`);
    const planned = { ...CLOUD_CONFIG, residency: { DE: ['us-east-1'] } };

    // Act
    const run = await ops(['plan', csv, ...simulateFlags()], planned);

    // Assess
    expect(run.code).toBe(3);
    expect(run.out).toContain('1 of 2 devices where planned');
    expect(run.out).toMatch(/not where planned:[\s\S]*mis-fra\s+plan-[a-z0-9]+-\d{5}\s+us-east-1\s+eu-central-1/);
  }, 60_000);
});
