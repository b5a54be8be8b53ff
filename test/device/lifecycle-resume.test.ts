import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_AFTER_ENV } from '@global-iot/device/cli.js';
import { type CliRun, runCli } from './support/cli.js';
import { type ProductCloud, startProductCloud } from './support/cloud.js';
import { enrollDevice, eventually, type TestDevice } from './support/device.js';
import { hasNextFiles, operator, stored, workingCredentials } from './support/lifecycle.js';

/**
 * `iot-provision` (the built program, a real process) killed with SIGKILL right after each step of
 * a rotation and of a move, then run again: right after the kill the device holds at least one
 * certificate that connects, and the next run finishes (README, "After the first boot").
 */

const ROTATION_STEPS = ['verify', 'create-certificate', 'register-thing', 'store-pending', 'confirm', 'switch', 'acknowledge'] as const;
const MOVE_STEPS = ['verify', 'bootstrap', 'connect', 'create-certificate', 'register-thing', 'store-pending', 'confirm', 'switch', 'acknowledge'] as const;
/** Killed before its new credentials were stored, a rotation has to be asked again; after, the next run finishes it. */
const ROTATION_STORED_FROM = ROTATION_STEPS.indexOf('store-pending');

const REGIONS = ['us-east-1', 'eu-central-1'] as const;

let cloud: ProductCloud;
let port: number;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

beforeAll(async () => {
  // Each region on an address of its own and one port, so that the bootstrap's answer (an
  // address, no port) and `--port` reach every region, as on AWS.
  port = await freePort();
  const base = 100 + Math.floor(Math.random() * 100);
  cloud = await startProductCloud(REGIONS, {
    hostMode: 'loopback-addresses',
    endpoints: REGIONS.map((region, i) => ({ region, address: `127.0.0.${base + i}`, port })),
  });
});

afterAll(async () => {
  await cloud?.close();
});

function writeConfig(device: TestDevice): string {
  const path = join(device.dir, 'device.json');
  writeFileSync(
    path,
    JSON.stringify({
      thingName: device.thingName,
      signingKey: device.signingKeyPath,
      claimCert: cloud.cloud.paths.claimCert,
      claimKey: cloud.cloud.paths.claimKey,
      ca: cloud.cloud.paths.rootCa,
      bootstrapUrl: cloud.bootstrapUrl.href,
      out: join(device.dir, 'out'),
      port,
      connectTimeoutMs: 5_000,
      measure: false,
      switchWaitMs: 10_000,
    }),
  );
  return path;
}

interface Outcome {
  step: string;
  killed: CliRun;
  afterKill: { current: boolean; pending?: boolean };
  resumed: CliRun;
  device: TestDevice;
  from: string;
  firstCertificate: string;
}

async function provisioned(name: string): Promise<{ device: TestDevice; config: string; region: string; certificate: string }> {
  const device = await enrollDevice(cloud, name, '127.0.0.1');
  const config = writeConfig(device);
  const first = await runCli(['--config', config]);
  if (first.code !== 0) throw new Error(`${name}: first boot failed: ${first.stderr}${JSON.stringify(first.lines.at(-1))}`);
  const record = await eventually(async () => {
    const r = await cloud.registry.get(name);
    return r?.prov_status === 'provisioned' ? r : undefined;
  }, `${name} confirmed`);
  return { device, config, region: record.aws_region ?? '', certificate: record.certificate_id ?? '' };
}

async function killRotationThenResume(step: (typeof ROTATION_STEPS)[number]): Promise<Outcome> {
  const { device, config, region, certificate } = await provisioned(`rot-kill-${step}`);
  const killed = await runCli(['rotate', '--config', config], { [CRASH_AFTER_ENV]: step });
  const afterKill = await workingCredentials(cloud, device);
  const askAgain = ROTATION_STEPS.indexOf(step) < ROTATION_STORED_FROM ? ['rotate'] : [];
  const resumed = await runCli([...askAgain, '--config', config]);
  return { step, killed, afterKill, resumed, device, from: region, firstCertificate: certificate };
}

async function killMoveThenResume(step: (typeof MOVE_STEPS)[number]): Promise<Outcome> {
  const { device, config, region, certificate } = await provisioned(`move-kill-${step}`);
  await operator(cloud).move(device.thingName, region === REGIONS[0] ? REGIONS[1] : REGIONS[0]);
  const killed = await runCli(['--config', config], { [CRASH_AFTER_ENV]: step });
  const afterKill = await workingCredentials(cloud, device);
  const resumed = await runCli(['--config', config]);
  return { step, killed, afterKill, resumed, device, from: region, firstCertificate: certificate };
}

async function inBatches<S extends string>(steps: readonly S[], run: (step: S) => Promise<Outcome>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < steps.length; i += 3) outcomes.push(...(await Promise.all(steps.slice(i, i + 3).map(run))));
  return outcomes;
}

/** Killed right after `step`, holding a working certificate; then finished, as the registry has it. */
async function assessOutcome(outcome: Outcome, expectRegion: (from: string) => string): Promise<void> {
  const { step, killed, afterKill, resumed, device } = outcome;
  expect({ step, signal: killed.signal }).toEqual({ step, signal: 'SIGKILL' });
  const lastOk = killed.lines.filter((l) => l['status'] === 'ok').at(-1);
  expect({ step, lastOk: lastOk?.['step'] }).toEqual({ step, lastOk: step });
  expect({ step, working: afterKill.current || afterKill.pending === true }).toEqual({ step, working: true });
  expect({ step, code: resumed.code, stderr: resumed.stderr }).toEqual({ step, code: 0, stderr: '' });
  const after = await stored(device);
  const state = after?.state;
  expect({ step, region: state?.region, pending: state?.step === 'confirmed' ? state.pending : undefined }).toEqual({ step, region: expectRegion(outcome.from), pending: undefined });
  expect({ step, next: hasNextFiles(device) }).toEqual({ step, next: false });
  const record = await cloud.registry.get(device.thingName);
  expect({ step, status: record?.prov_status, certificate: record?.certificate_id, region: record?.aws_region }).toEqual({
    step,
    status: 'provisioned',
    certificate: state?.step === 'confirmed' ? state.certificateId : undefined,
    region: expectRegion(outcome.from),
  });
  expect({ step, rotated: state?.step === 'confirmed' && state.certificateId !== outcome.firstCertificate }).toEqual({ step, rotated: true });
  const working = await workingCredentials(cloud, device);
  expect({ step, working: working.current }).toEqual({ step, working: true });
}

describe('iot-provision killed after each step of a rotation or a move', () => {
  it('rotation: always a working certificate, and the next run finishes', { timeout: 180_000 }, async () => {
    // Act
    const outcomes = await inBatches(ROTATION_STEPS, killRotationThenResume);

    // Assess
    for (const outcome of outcomes) await assessOutcome(outcome, (from) => from);
  });

  it('move: always a working certificate, and the next run finishes in the new region', { timeout: 180_000 }, async () => {
    // Act
    const outcomes = await inBatches(MOVE_STEPS, killMoveThenResume);

    // Assess
    for (const outcome of outcomes) await assessOutcome(outcome, (from) => (from === REGIONS[0] ? REGIONS[1] : REGIONS[0]));
  });
});

describe('iot-provision --listen', () => {
  it('acts on a rotation and then a move as they arrive on the delta, and ends when its time is up', { timeout: 60_000 }, async () => {
    // Prepare
    const { device, config, region } = await provisioned('listener');
    const to = region === REGIONS[0] ? REGIONS[1] : REGIONS[0];
    let asked = 0;
    const ask = async (): Promise<void> => {
      asked += 1;
      if (asked === 1) await operator(cloud).rotate(device.thingName);
      if (asked === 2) await operator(cloud).move(device.thingName, to);
    };

    // Act: each request is written only once the device waits on its delta.
    const run = await runCli(['--config', config, '--listen', '12'], {}, (line) => {
      if (line['step'] === 'listen' && line['status'] === 'start') {
        void ask();
      }
    });

    // Assess
    expect(run.code).toBe(0);
    const woke = run.lines.filter((l) => l['step'] === 'listen' && l['status'] === 'ok').map((l) => (l['detail'] as { woke: string }).woke);
    expect(woke).toEqual(['asked', 'asked', 'done']);
    // The result is the last run's: the move.
    expect(run.lines.at(-1)).toMatchObject({ event: 'result', outcome: 'moved', region: to });
    const record = await cloud.registry.get(device.thingName);
    expect(record?.history?.map((h) => h.kind)).toEqual(['rotation', 'move']);
    expect(record).toMatchObject({ prov_status: 'provisioned', aws_region: to });
  });
});
