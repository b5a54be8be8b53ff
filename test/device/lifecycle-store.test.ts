import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateIdOf } from '@global-iot/core/certificate-id.js';
import {
  CERT_FILE,
  type ConfirmedState,
  type DeviceCredentials,
  FileStore,
  KEY_FILE,
  NEXT_CERT_FILE,
  NEXT_KEY_FILE,
  type PendingCredentials,
  STATE_FILE,
} from '@global-iot/device/store.js';
import { selfSignedDeviceCert } from './support/certs.js';

/** The device's pending credentials on disk (device/store.ts): beside the current ones, and the switch. */

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'device-lifecycle-store-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const mode = (path: string) => statSync(path).mode & 0o777;

async function confirmedDevice(): Promise<{ dir: string; state: ConfirmedState; credentials: DeviceCredentials; next: DeviceCredentials; pending: PendingCredentials }> {
  const dir = mkdtempSync(join(root, 'case-'));
  const credentials = await selfSignedDeviceCert('sensor-1');
  const next = await selfSignedDeviceCert('sensor-1');
  const state: ConfirmedState = {
    version: 1,
    step: 'confirmed',
    thingName: 'sensor-1',
    region: 'eu-central-1',
    endpoint: 'abc-ats.iot.eu-central-1.amazonaws.com',
    port: 8883,
    templateName: 'GlobalFleetProvisioning',
    certificateId: certificateIdOf(credentials.certificatePem),
    deviceConfiguration: {},
    updatedAt: '2026-12-03T10:00:00.000Z',
    confirmedAt: '2026-12-03T10:00:00.000Z',
  };
  const store = new FileStore(dir);
  await store.saveRegistered({ ...state, step: 'registered' }, credentials);
  await store.saveConfirmed(state);
  const pending: PendingCredentials = {
    kind: 'move',
    requestId: 'm-1',
    certificateId: certificateIdOf(next.certificatePem),
    region: 'us-east-1',
    endpoint: 'abc-ats.iot.us-east-1.amazonaws.com',
    port: 8883,
    templateName: 'GlobalFleetProvisioning',
    deviceConfiguration: {},
    storedAt: '2026-12-03T10:01:00.000Z',
  };
  return { dir, state, credentials, next, pending };
}

const switched = (state: ConfirmedState, pending: PendingCredentials): ConfirmedState => ({
  ...state,
  region: pending.region,
  endpoint: pending.endpoint,
  certificateId: pending.certificateId,
  updatedAt: '2026-12-03T10:02:00.000Z',
});

describe('FileStore: pending credentials', () => {
  it('stores new credentials in next.* beside the current ones, which stay untouched', async () => {
    // Prepare
    const { dir, state, credentials, next, pending } = await confirmedDevice();
    const before = readFileSync(join(dir, KEY_FILE), 'utf8');

    // Act
    await new FileStore(dir).savePending({ ...state, pending }, next);
    const loaded = await new FileStore(dir).load('sensor-1');

    // Assess
    expect(loaded).toEqual({ state: { ...state, pending }, credentials, pending: next });
    expect(readFileSync(join(dir, KEY_FILE), 'utf8')).toBe(before);
    expect(mode(join(dir, NEXT_KEY_FILE))).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual([CERT_FILE, KEY_FILE, NEXT_CERT_FILE, NEXT_KEY_FILE, STATE_FILE].sort());
  });

  it('switches: the new pair becomes device.*, next.* are removed', async () => {
    // Prepare
    const { dir, state, next, pending } = await confirmedDevice();
    const store = new FileStore(dir);
    await store.savePending({ ...state, pending }, next);

    // Act
    await store.switchToPending(switched(state, pending));
    const loaded = await new FileStore(dir).load('sensor-1');

    // Assess
    expect(loaded).toEqual({ state: switched(state, pending), credentials: next });
    expect(readdirSync(dir).sort()).toEqual([CERT_FILE, KEY_FILE, STATE_FILE].sort());
    expect(mode(join(dir, KEY_FILE))).toBe(0o600);
  });

  it('finishes a switch a killed run left halfway (state names next.*, device.* half rewritten)', async () => {
    // Prepare: the commit point written, then the new key over device.key, and the kill.
    const { dir, state, next, pending } = await confirmedDevice();
    await new FileStore(dir).savePending({ ...state, pending }, next);
    const { pending: _p, ...rest } = { ...switched(state, pending), pending };
    writeFileSync(join(dir, STATE_FILE), JSON.stringify({ ...rest, files: 'next' }));
    writeFileSync(join(dir, KEY_FILE), next.privateKeyPem);

    // Act
    const loaded = await new FileStore(dir).load('sensor-1');

    // Assess
    expect(loaded).toEqual({ state: switched(state, pending), credentials: next });
    expect(readFileSync(join(dir, CERT_FILE), 'utf8')).toBe(next.certificatePem);
    expect(readdirSync(dir).sort()).toEqual([CERT_FILE, KEY_FILE, STATE_FILE].sort());
    expect(JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8'))).not.toHaveProperty('files');
  });

  it('drops pending credentials that do not match the state, and keeps the device on its own', async () => {
    // Prepare: next.crt is some other certificate than the state names.
    const { dir, state, credentials, next, pending } = await confirmedDevice();
    await new FileStore(dir).savePending({ ...state, pending }, next);
    writeFileSync(join(dir, NEXT_CERT_FILE), credentials.certificatePem);

    // Act
    const loaded = await new FileStore(dir).load('sensor-1');

    // Assess
    expect(loaded).toEqual({ state, credentials });
  });

  it('refuses a pending state whose fields are invalid, naming the field, and changes nothing', async () => {
    // Prepare
    const { dir, state, next, pending } = await confirmedDevice();
    const before = readFileSync(join(dir, STATE_FILE), 'utf8');

    // Act
    const saving = new FileStore(dir).savePending({ ...state, pending: { ...pending, region: 'moon-1' } }, next);

    // Assess
    await expect(saving).rejects.toThrow(/region/);
    expect(readFileSync(join(dir, STATE_FILE), 'utf8')).toBe(before);
    expect(readdirSync(dir).sort()).toEqual([CERT_FILE, KEY_FILE, STATE_FILE].sort());
  });
});
