import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, EXIT_OK, EXIT_USAGE, main } from '@global-iot/device/cli.js';
import { parseDeviceSettings } from '@global-iot/device/config.js';
import { DeviceConfigError } from '@global-iot/device/errors.js';
import { rotationDue } from '@global-iot/device/lifecycle/due.js';
import { selfSignedDeviceCert } from './support/certs.js';

/** The lifecycle's settings and flags (device/lifecycle/settings.ts), and when a rotation is due (due.ts). */

let dir: string;
let required: Record<string, string>;
let certificatePem: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'device-lifecycle-settings-'));
  const claim = await selfSignedDeviceCert('claim');
  certificatePem = claim.certificatePem;
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  required = {
    thingName: 'sensor-1',
    signingKey: write('signing.key', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    claimCert: write('claim.crt', claim.certificatePem),
    claimKey: write('claim.key', claim.privateKeyPem),
    bootstrapUrl: 'https://bootstrap.example.test/bootstrap',
    out: join(dir, 'out'),
  };
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function captureIo(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {}, crash: () => undefined };
}

const flags = (): string[] => [
  '--thing-name', required['thingName'] ?? '',
  '--signing-key', required['signingKey'] ?? '',
  '--claim-cert', required['claimCert'] ?? '',
  '--claim-key', required['claimKey'] ?? '',
  '--bootstrap-url', required['bootstrapUrl'] ?? '',
  '--out', required['out'] ?? '',
];

describe('lifecycle settings', () => {
  it('has defaults: the deployment default rotation template, no rotation by age, 20 s for the switch', () => {
    // Act
    const settings = parseDeviceSettings(required);

    // Assess
    expect(settings).toMatchObject({ rotationTemplate: 'GlobalFleetRotation', switchWaitMs: 20_000, listenRetryMs: 30_000 });
    expect(settings.rotateAfterDays).toBeUndefined();
    expect(settings.rotateBeforeExpiryDays).toBeUndefined();
    expect(settings.listenSeconds).toBeUndefined();
  });

  it.each([
    ['rotateAfterDays', 0, '--rotate-after-days'],
    ['rotateBeforeExpiryDays', 1.5, '--rotate-before-expiry-days'],
    ['listenSeconds', 0, '--listen'],
    ['switchWaitMs', 400_000, '--switch-wait'],
    ['rotationTemplate', 'has space', '--rotation-template'],
  ])('refuses %s = %s, naming %s', (name, value, flag) => {
    // Act
    const parsing = () => parseDeviceSettings({ ...required, [name]: value });

    // Assess
    expect(parsing).toThrow(DeviceConfigError);
    expect(parsing).toThrow(flag);
  });

  it('iot-provision: bad lifecycle flags and an unknown command exit 2 before anything is written', async () => {
    // Prepare
    const badDays = captureIo();
    const unknown = captureIo();

    // Act
    const badDaysCode = await main([...flags(), '--rotate-after-days', 'soon'], badDays);
    const unknownCode = await main(['rotat', ...flags()], unknown);

    // Assess
    expect(badDaysCode).toBe(EXIT_USAGE);
    expect(badDays.err.join('')).toContain('--rotate-after-days (rotateAfterDays)');
    expect(unknownCode).toBe(EXIT_USAGE);
    expect(unknown.err.join('')).toMatch(/rotat/);
    expect(readdirSync(dir)).not.toContain('out');
  });

  it('iot-provision --help names the rotate command and every lifecycle flag', async () => {
    // Prepare
    const io = captureIo();

    // Act
    const code = await main(['--help'], io);

    // Assess
    expect(code).toBe(EXIT_OK);
    const help = io.out.join('');
    for (const text of ['rotate', '--rotate-after-days', '--rotate-before-expiry-days', '--rotation-template', '--switch-wait', '--listen <s>', '--listen-retry']) {
      expect(help).toContain(text);
    }
  });
});

describe('rotationDue', () => {
  it('is due once the certificate is older than rotateAfterDays, and not before', () => {
    // Prepare: the test certificate starts now and is valid for a day.
    const now = Date.now();

    // Act
    const fresh = rotationDue(certificatePem, now, { rotateAfterDays: 1 });
    const old = rotationDue(certificatePem, now + 1.5 * 86_400_000, { rotateAfterDays: 1 });

    // Assess
    expect(fresh).toBeUndefined();
    expect(old).toMatch(/1 days old/);
  });

  it('is due when the certificate expires within rotateBeforeExpiryDays', () => {
    // Act
    const near = rotationDue(certificatePem, Date.now(), { rotateBeforeExpiryDays: 2 });

    // Assess
    expect(near).toMatch(/expires in 0 days/);
  });

  it('is never due when neither setting is given', () => {
    // Act
    const due = rotationDue(certificatePem, Date.now() + 10 * 86_400_000, {});

    // Assess
    expect(due).toBeUndefined();
  });
});
