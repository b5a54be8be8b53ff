import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_AFTER_ENV } from '@global-iot/device/cli.js';
import { FileStore } from '@global-iot/device/store.js';
import { DEVICE_BIN } from '../helpers/packages.js';
import { type ProductCloud, startProductCloud } from './support/cloud.js';
import { enrollDevice, eventually, type TestDevice } from './support/device.js';

/**
 * The device program (`iot-provision` as built for users, a real process) killed with SIGKILL right after each step,
 * then run again: it must finish without any manual reset.
 */

const STEPS_TO_KILL = ['bootstrap', 'connect', 'create-certificate', 'register-thing', 'store', 'confirm'] as const;
/** What the state file says right after the kill: the commit point the next run resumes from. */
const STATE_AFTER_KILL: Record<(typeof STEPS_TO_KILL)[number], string> = {
  bootstrap: 'bootstrapped',
  connect: 'bootstrapped',
  'create-certificate': 'bootstrapped',
  'register-thing': 'bootstrapped',
  store: 'registered',
  confirm: 'registered',
};

const REGION = 'us-east-1';

let cloud: ProductCloud;

beforeAll(async () => {
  cloud = await startProductCloud([REGION]);
});

afterAll(async () => {
  await cloud?.close();
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Record<string, unknown>[];
  stderr: string;
}

function runCli(configPath: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEVICE_BIN, '--config', configPath, '--json'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const lines = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, signal, lines, stderr });
    });
  });
}

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
      // One region, so the device needs no more than its port to find it.
      port: cloud.cloud.region(REGION).endpoint.port,
      connectTimeoutMs: 5_000,
    }),
  );
  return path;
}

async function killThenResume(step: (typeof STEPS_TO_KILL)[number]): Promise<{ killed: Run; resumed: Run; device: TestDevice; stateAfterKill?: string }> {
  const device = await enrollDevice(cloud, `resume-${step}`, '127.0.0.1');
  const config = writeConfig(device);
  const killed = await runCli(config, { [CRASH_AFTER_ENV]: step });
  const stateAfterKill = (await new FileStore(join(device.dir, 'out')).load(device.thingName))?.state.step;
  const resumed = await runCli(config);
  return { killed, resumed, device, ...(stateAfterKill !== undefined ? { stateAfterKill } : {}) };
}

describe('iot-provision killed after each step', () => {
  it('resumes and finishes on the next run, every time', { timeout: 120_000 }, async () => {
    // Act: three devices at a time, each killed after a different step, then run again.
    const outcomes: Awaited<ReturnType<typeof killThenResume>>[] = [];
    for (let i = 0; i < STEPS_TO_KILL.length; i += 3) {
      outcomes.push(...(await Promise.all(STEPS_TO_KILL.slice(i, i + 3).map((step) => killThenResume(step)))));
    }

    // Assess
    for (const [index, step] of STEPS_TO_KILL.entries()) {
      const outcome = outcomes[index];
      if (!outcome) throw new Error(`no outcome for ${step}`);
      const { killed, resumed, device, stateAfterKill } = outcome;
      expect({ step, signal: killed.signal }).toEqual({ step, signal: 'SIGKILL' });
      const lastOk = killed.lines.filter((l) => l['status'] === 'ok').at(-1);
      expect({ step, lastOk: lastOk?.['step'] }).toEqual({ step, lastOk: step });
      expect({ step, stateAfterKill }).toEqual({ step, stateAfterKill: STATE_AFTER_KILL[step] });
      expect({ step, code: resumed.code, stderr: resumed.stderr }).toEqual({ step, code: 0, stderr: '' });
      expect(resumed.lines.at(-1)).toMatchObject({ event: 'result', outcome: 'provisioned', thingName: device.thingName });
      const stored = await new FileStore(join(device.dir, 'out')).load(device.thingName);
      expect(stored?.state.step).toBe('confirmed');
      const record = await eventually(async () => {
        const r = await cloud.registry.get(device.thingName);
        return r?.prov_status === 'provisioned' ? r : undefined;
      }, `${device.thingName} to be confirmed`);
      expect(record.certificate_id).toBe(stored?.state.step === 'confirmed' ? stored.state.certificateId : undefined);
    }
  });
});
