import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '@global-iot/local/cloud.js';
import { localDynamoClient } from '@global-iot/local/dynamodb.js';
import { fleetJobFor } from '@global-iot/local/fleet/demo.js';
import type { FleetRun } from '@global-iot/local/fleet/outcome.js';
import { runFleetJobInChild } from '@global-iot/local/fleet/spawn.js';
import { summarize } from '@global-iot/local/fleet/summary.js';
import { createLogger } from '@global-iot/local/log.js';
import { productWiring } from '@global-iot/local/product.js';

/**
 * A burst against AWS's quotas with quota-aware admission: 150 devices at once, through the real
 * device library and the product's bootstrap, into a local cloud with `awsQuotas: true`. The
 * bootstrap admits each region's devices under its ceiling (RegisterThing's 10 a second x 0.8)
 * and spreads the rest with Retry-After, so no RegisterThing is throttled.
 * (`npm run bench -- burst` runs 2,000 and reports the figures.)
 */

const REGIONS = ['us-east-1', 'eu-central-1', 'ap-northeast-1'];
const DEVICES = 150;

let cloud: LocalCloud;
let workDir: string;
let run: FleetRun;
const logLines: string[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'admission-burst-'));
  const log = createLogger('info', (line) => logLines.push(line));
  cloud = await startLocalCloud({
    pkiDir: join(workDir, 'pki'),
    regions: REGIONS,
    demo: true,
    deviceKeyAlgorithm: 'ec-p256',
    awsQuotas: true,
    log,
    wire: productWiring({ keysDir: join(workDir, 'keys'), log }),
  });
  const job = fleetJobFor(cloud, {
    devices: DEVICES,
    concurrency: DEVICES,
    certificateMode: 'csr',
    protocol: 'mqtt311',
    outDir: join(workDir, 'fleet'),
    prefix: 'burst',
    durable: false,
  });
  run = await runFleetJobInChild(job, { enrolled: () => undefined, progress: () => undefined });
}, 300_000);

afterAll(async () => {
  await cloud?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

interface LogEntry {
  message?: string;
  operation?: string;
  errorCode?: string;
  outcome?: string;
  status?: number;
  region?: string;
  registerAt?: number;
}

function entries(): LogEntry[] {
  return logLines.map((line) => JSON.parse(line) as LogEntry);
}

describe('a burst with the quotas and admission on', () => {
  it('ensures the admission table in the local DynamoDB', async () => {
    // Prepare
    const client = localDynamoClient(cloud.dynamo?.endpoint ?? '', 'us-east-1');

    // Act
    let described;
    try {
      described = await client.send(new DescribeTableCommand({ TableName: 'iot-bootstrap-admission' }));
    } finally {
      client.destroy();
    }

    // Assess
    expect(described.Table?.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
  });

  it('provisions every device', () => {
    // Act
    const summary = summarize(run);

    // Assess
    expect(run.outcomes.filter((o) => !o.ok).map((o) => ({ thing: o.thingName, failure: o.failure }))).toEqual([]);
    expect(summary).toMatchObject({ devices: DEVICES, provisioned: DEVICES });
  });

  it('held devices back at the bootstrap with 429s, and throttled no RegisterThing', () => {
    // Act
    const all = entries();
    const registers = all.filter((e) => e.message === 'fleet provisioning' && e.operation === 'register');
    const busy = all.filter((e) => e.message === 'bootstrap' && e.outcome === 'REGION_BUSY');

    // Assess
    expect(busy.length).toBeGreaterThan(0);
    expect(registers.filter((e) => e.outcome === 'accepted')).toHaveLength(DEVICES);
    expect(registers.filter((e) => e.errorCode === 'Throttled')).toEqual([]);
  });

  it('gave each region\'s admitted devices RegisterThing times at least 1 / ceiling s apart', () => {
    // Prepare: the ceiling is 10 x 0.8 = 8 a second, so 125 ms apart (times are rounded up to the ms).
    const byRegion = new Map<string, number[]>();
    for (const e of entries()) {
      if (e.message !== 'bootstrap' || e.outcome !== 'SUCCESS' || e.region === undefined || e.registerAt === undefined) continue;
      byRegion.set(e.region, [...(byRegion.get(e.region) ?? []), e.registerAt]);
    }

    // Act
    const gaps = [...byRegion.values()].flatMap((times) => times.sort((a, b) => a - b).slice(1).map((t, i) => t - (times[i] ?? 0)));

    // Assess
    expect([...byRegion.values()].reduce((n, times) => n + times.length, 0)).toBe(DEVICES);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(124);
  });
});
