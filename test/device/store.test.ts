import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateIdOf } from '@global-iot/core/certificate-id.js';
import { StoredStateInvalid } from '@global-iot/device/errors.js';
import {
  type BootstrappedState,
  CERT_FILE,
  FileStore,
  KEY_FILE,
  type RegisteredState,
  STATE_FILE,
  writeFileAtomic,
} from '@global-iot/device/store.js';
import { selfSignedDeviceCert } from './support/certs.js';

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'device-store-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function tempDir(): string {
  return mkdtempSync(join(root, 'case-'));
}

const BOOTSTRAPPED: BootstrappedState = {
  version: 1,
  step: 'bootstrapped',
  thingName: 'sensor-1',
  region: 'eu-central-1',
  endpoint: 'abc-ats.iot.eu-central-1.amazonaws.com',
  port: 8883,
  templateName: 'GlobalFleetProvisioning',
  updatedAt: '2026-11-28T12:00:00.000Z',
};

async function registered(): Promise<{ state: RegisteredState; credentials: { certificatePem: string; privateKeyPem: string } }> {
  const credentials = await selfSignedDeviceCert('sensor-1');
  return {
    state: { ...BOOTSTRAPPED, step: 'registered', certificateId: certificateIdOf(credentials.certificatePem), deviceConfiguration: { a: 'b' } },
    credentials,
  };
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('FileStore', () => {
  it('finds nothing in a new directory, and creates it private', async () => {
    // Prepare
    const dir = join(tempDir(), 'nested', 'out');

    // Act
    const loaded = await new FileStore(dir).load('sensor-1');

    // Assess
    expect(loaded).toBeUndefined();
    expect(mode(dir)).toBe(0o700);
  });

  it('keeps a bootstrapped state', async () => {
    // Prepare
    const dir = tempDir();
    await new FileStore(dir).saveBootstrapped(BOOTSTRAPPED);

    // Act
    const loaded = await new FileStore(dir).load('sensor-1');

    // Assess
    expect(loaded).toEqual({ state: BOOTSTRAPPED });
  });

  it('writes the key 0600, the certificate, then the state, and reads them back checked', async () => {
    // Prepare
    const dir = tempDir();
    const { state, credentials } = await registered();

    // Act
    await new FileStore(dir).saveRegistered(state, credentials);
    const loaded = await new FileStore(dir).load('sensor-1');

    // Assess
    expect(loaded).toEqual({ state, credentials });
    expect(mode(join(dir, KEY_FILE))).toBe(0o600);
    expect(mode(join(dir, STATE_FILE))).toBe(0o600);
    expect(readFileSync(join(dir, KEY_FILE), 'utf8')).toBe(credentials.privateKeyPem);
    expect(readdirSync(dir).sort()).toEqual([CERT_FILE, KEY_FILE, STATE_FILE].sort());
  });

  it('writes the same files, modes and contents when not durable (the simulator)', async () => {
    // Prepare
    const dir = tempDir();
    const { state, credentials } = await registered();
    const store = new FileStore(dir, { durable: false });

    // Act
    await store.saveBootstrapped(BOOTSTRAPPED);
    await store.saveRegistered(state, credentials);
    const loaded = await new FileStore(dir).load('sensor-1');

    // Assess
    expect(loaded).toEqual({ state, credentials });
    expect(mode(join(dir, KEY_FILE))).toBe(0o600);
    expect(mode(join(dir, STATE_FILE))).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual([CERT_FILE, KEY_FILE, STATE_FILE].sort());
  });

  it('keeps a confirmed state with its credentials', async () => {
    // Prepare
    const dir = tempDir();
    const store = new FileStore(dir);
    const { state, credentials } = await registered();
    await store.saveRegistered(state, credentials);
    const confirmed = { ...state, step: 'confirmed' as const, confirmedAt: '2026-11-28T12:00:01.000Z' };

    // Act
    await store.saveConfirmed(confirmed);
    const loaded = await new FileStore(dir).load('sensor-1');

    // Assess
    expect(loaded?.state).toEqual(confirmed);
    expect(loaded?.credentials).toEqual(credentials);
  });

  it('removes temporary files a killed run left behind', async () => {
    // Prepare
    const dir = tempDir();
    writeFileSync(join(dir, `${KEY_FILE}.abc123.tmp`), 'half a key');

    // Act
    await new FileStore(dir).load('sensor-1');

    // Assess
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses another thing\'s state', async () => {
    // Prepare
    const dir = tempDir();
    await new FileStore(dir).saveBootstrapped(BOOTSTRAPPED);

    // Act
    const error = await new FileStore(dir).load('sensor-2').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(StoredStateInvalid);
    expect((error as Error).message).toContain('sensor-1');
  });

  it.each([
    ['not JSON', '{'],
    ['an unknown step', JSON.stringify({ ...BOOTSTRAPPED, step: 'halfway' })],
    ['a bad port', JSON.stringify({ ...BOOTSTRAPPED, port: 0 })],
    ['a missing field', JSON.stringify({ ...BOOTSTRAPPED, region: undefined })],
  ])('refuses a state file with %s', async (_label, text) => {
    // Prepare
    const dir = tempDir();
    writeFileSync(join(dir, STATE_FILE), text);

    // Act
    const error = await new FileStore(dir).load('sensor-1').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(StoredStateInvalid);
  });

  it('refuses a registered state whose key is missing', async () => {
    // Prepare
    const dir = tempDir();
    const { state, credentials } = await registered();
    await new FileStore(dir).saveRegistered(state, credentials);
    writeFileSync(join(dir, KEY_FILE), '');

    // Act
    const error = await new FileStore(dir).load('sensor-1').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(StoredStateInvalid);
  });

  it('refuses a certificate that is not for the stored key', async () => {
    // Prepare
    const dir = tempDir();
    const { state, credentials } = await registered();
    await new FileStore(dir).saveRegistered(state, credentials);
    const other = await selfSignedDeviceCert('sensor-1');
    writeFileSync(join(dir, CERT_FILE), other.certificatePem);

    // Act
    const error = await new FileStore(dir).load('sensor-1').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(StoredStateInvalid);
    expect((error as Error).message).toContain('not for this private key');
  });

  it('refuses a certificate that is not the one the state names', async () => {
    // Prepare
    const dir = tempDir();
    const { state, credentials } = await registered();
    await new FileStore(dir).saveRegistered({ ...state, certificateId: 'a'.repeat(64) }, credentials);

    // Act
    const error = await new FileStore(dir).load('sensor-1').catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(StoredStateInvalid);
  });
});

describe('writeFileAtomic', () => {
  it('replaces a file whole and leaves no temporary file', async () => {
    // Prepare
    const dir = tempDir();
    const path = join(dir, 'f');
    writeFileSync(path, 'old');

    // Act
    await writeFileAtomic(path, 'new', 0o600);

    // Assess
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(mode(path)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['f']);
  });

  it('fails without touching the target when the directory does not exist', async () => {
    // Prepare
    const path = join(tempDir(), 'missing', 'f');

    // Act
    const error = await writeFileAtomic(path, 'x', 0o600).catch((e: unknown) => e);

    // Assess
    expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});
