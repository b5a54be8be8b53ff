import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_AFTER_ENV, type CliIo, EXIT_OK, EXIT_USAGE, main, SETTING_FLAGS } from '@global-iot/device/cli.js';
import { loadDevice, parseDeviceSettings, readConfigFile } from '@global-iot/device/config.js';
import { DeviceConfigError } from '@global-iot/device/errors.js';
import { DEFAULT_THROTTLE_POLICY } from '@global-iot/device/throttle.js';
import { selfSignedDeviceCert } from './support/certs.js';

function captureIo(env: Record<string, string> = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    env,
    crash: () => {
      throw new Error('crash hook called');
    },
  };
}

let dir: string;
let files: { signingKey: string; claimCert: string; claimKey: string; ca: string; otherKey: string; p384Key: string; notPem: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'device-cli-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const pem = (key: ReturnType<typeof generateKeyPairSync>['privateKey']) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const claim = await selfSignedDeviceCert('claim');
  const other = await selfSignedDeviceCert('other');
  files = {
    signingKey: write('signing.key', pem(generateKeyPairSync('ed25519').privateKey)),
    claimCert: write('claim.crt', claim.certificatePem),
    claimKey: write('claim.key', claim.privateKeyPem),
    ca: write('ca.pem', claim.certificatePem),
    otherKey: write('other.key', other.privateKeyPem),
    p384Key: write('p384.key', pem(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey)),
    notPem: write('not.pem', 'hello'),
  };
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function validFlags(): string[] {
  return [
    '--thing-name', 'sensor-1',
    '--signing-key', files.signingKey,
    '--claim-cert', files.claimCert,
    '--claim-key', files.claimKey,
    '--bootstrap-url', 'https://localhost:1/bootstrap',
    '--out', join(dir, 'out'),
  ];
}

describe('iot-provision --help', () => {
  it('documents every flag and the crash hook', async () => {
    // Prepare
    const io = captureIo();

    // Act
    const code = await main(['--help'], io);

    // Assess
    const help = io.out.join('');
    expect(code).toBe(EXIT_OK);
    for (const flag of [...Object.values(SETTING_FLAGS), '--config', '--json', '--help']) expect(help).toContain(flag);
    expect(help).toContain(CRASH_AFTER_ENV);
  });
});

describe('iot-provision input validation', () => {
  it.each([
    ['an unknown flag', ['--frobnicate'], 'unknown option'],
    ['a bad certificate mode', ['--certificate-mode', 'pkcs12'], 'csr'],
    ['a bad MQTT version', ['--mqtt', '4'], '3.1.1'],
    ['a malformed --param', ['--param', 'novalue'], 'NAME=VALUE'],
  ])('exits 2 on %s', async (_label, extra, message) => {
    // Prepare
    const io = captureIo();

    // Act
    const code = await main([...validFlags(), ...extra], io);

    // Assess
    expect(code).toBe(EXIT_USAGE);
    expect(io.err.join('')).toContain(message);
  });

  it.each([
    ['a missing thing name', (f: string[]) => f.slice(2), '--thing-name (thingName) is required'],
    ['an invalid thing name', (f: string[]) => ['--thing-name', 'has space', ...f.slice(2)], '--thing-name (thingName): thing name must be'],
    ['a port out of range', (f: string[]) => [...f, '--port', '70000'], '--port (port)'],
    ['a non-numeric time-out', (f: string[]) => [...f, '--connect-timeout', '5s'], '--connect-timeout (connectTimeoutMs)'],
    ['a plain-HTTP bootstrap URL', (f: string[]) => [...f, '--bootstrap-url', 'http://localhost/'], '--bootstrap-url: the bootstrap URL must be https://'],
    ['an unreadable signing key', (f: string[]) => [...f, '--signing-key', join(dir, 'missing.key')], '--signing-key: cannot read'],
    ['a signing key that is not a key', (f: string[]) => [...f, '--signing-key', files.notPem], '--signing-key: not a PEM private key'],
    ['a P-384 signing key', (f: string[]) => [...f, '--signing-key', files.p384Key], '--signing-key: EC keys must be on P-256'],
    ['a claim key that does not match the certificate', (f: string[]) => [...f, '--claim-key', files.otherKey], 'not for this private key'],
    ['a CA file without a certificate', (f: string[]) => [...f, '--ca', files.notPem], '--ca:'],
    ['a reserved parameter', (f: string[]) => [...f, '--param', 'Ticket=x'], '--param (parameters): ThingName and Ticket are set by the device itself'],
    ['no throttled try at all', (f: string[]) => [...f, '--throttle-attempts', '0'], '--throttle-attempts (throttleAttempts)'],
    ['a time in line over an hour', (f: string[]) => [...f, '--max-queue', '3601'], '--max-queue (maxQueueSeconds)'],
    ['a time in line below zero', (f: string[]) => [...f, '--max-queue', '-1'], '--max-queue (maxQueueSeconds)'],
    ['no probe of a candidate', (f: string[]) => [...f, '--measure-probes', '0'], '--measure-probes (measureProbes)'],
    ['a measuring time over 30 s', (f: string[]) => [...f, '--measure-timeout', '30001'], '--measure-timeout (measureTimeoutMs)'],
    [
      'a largest throttling back-off below the first',
      (f: string[]) => [...f, '--throttle-backoff', '5000', '--throttle-max-backoff', '1000'],
      '--throttle-max-backoff (throttleMaxBackoffMs): must not be below --throttle-backoff',
    ],
  ])('exits 2 naming the flag on %s', async (_label, edit, message) => {
    // Prepare
    const io = captureIo();

    // Act
    const code = await main(edit(validFlags()), io);

    // Assess
    expect(code).toBe(EXIT_USAGE);
    expect(io.err.join('')).toContain(message);
  });

  it('refuses an unknown crash step', async () => {
    // Prepare
    const io = captureIo({ [CRASH_AFTER_ENV]: 'lunch' });

    // Act
    const code = await main(validFlags(), io);

    // Assess
    expect(code).toBe(EXIT_USAGE);
    expect(io.err.join('')).toContain(`${CRASH_AFTER_ENV} must be one of`);
  });
});

describe('device settings', () => {
  it('reads a config file with paths relative to it; flags would win', async () => {
    // Prepare
    const path = join(dir, 'device.json');
    writeFileSync(
      path,
      JSON.stringify({ thingName: 'sensor-9', signingKey: 'signing.key', claimCert: 'claim.crt', claimKey: 'claim.key', bootstrapUrl: 'https://x.example/', out: 'out', mqtt: '5', parameters: { Site: 'north' } }),
    );

    // Act
    const settings = parseDeviceSettings(await readConfigFile(path));
    const loaded = await loadDevice(settings);

    // Assess
    expect(settings.signingKey).toBe(files.signingKey);
    expect(loaded.protocol).toBe('mqtt5');
    expect(loaded.certificateMode).toBe('csr');
    expect(settings.parameters).toEqual({ Site: 'north' });
    expect(loaded.identity.thingName).toBe('sensor-9');
  });

  it('gives the throttling back-off its defaults, each of which a setting changes', () => {
    // Prepare
    const required = { thingName: 'a', signingKey: 'k', claimCert: 'c', claimKey: 'k', bootstrapUrl: 'https://x/', out: 'o' };

    // Act
    const defaults = parseDeviceSettings(required);
    const changed = parseDeviceSettings({ ...required, throttleAttempts: 8, throttleBackoffMs: 250, throttleMaxBackoffMs: 4_000 });

    // Assess
    expect(defaults).toMatchObject({ throttleAttempts: DEFAULT_THROTTLE_POLICY.attempts, throttleBackoffMs: DEFAULT_THROTTLE_POLICY.baseBackoffMs, throttleMaxBackoffMs: DEFAULT_THROTTLE_POLICY.maxBackoffMs });
    expect(changed).toMatchObject({ throttleAttempts: 8, throttleBackoffMs: 250, throttleMaxBackoffMs: 4_000 });
  });

  it('measures by default, 3 probes in 2 s; a setting changes each, and false in a file turns it off', () => {
    // Prepare
    const required = { thingName: 'a', signingKey: 'k', claimCert: 'c', claimKey: 'k', bootstrapUrl: 'https://x/', out: 'o' };

    // Act
    const defaults = parseDeviceSettings(required);
    const changed = parseDeviceSettings({ ...required, measure: false, measureProbes: 5, measureTimeoutMs: 500 });

    // Assess
    expect(defaults).toMatchObject({ measure: true, measureProbes: 3, measureTimeoutMs: 2_000 });
    expect(changed).toMatchObject({ measure: false, measureProbes: 5, measureTimeoutMs: 500 });
  });

  it.each([
    ['not JSON', '{', 'is not valid JSON'],
    ['an array', '[]', 'must hold a JSON object'],
  ])('refuses a config file that is %s', async (_label, text, message) => {
    // Prepare
    const path = join(dir, `bad-${text.length}.json`);
    writeFileSync(path, text);

    // Act
    const error = await readConfigFile(path).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(DeviceConfigError);
    expect((error as Error).message).toContain(message);
  });

  it('refuses unknown settings in a config file', () => {
    // Act
    const act = () => parseDeviceSettings({ thingName: 'a', signingKey: 'k', claimCert: 'c', claimKey: 'k', bootstrapUrl: 'https://x/', out: 'o', colour: 'red' });

    // Assess
    expect(act).toThrow(/unknown setting\(s\): colour/);
  });

  it('refuses a missing config file, naming --config', async () => {
    // Prepare
    const io = captureIo();

    // Act
    const code = await main(['--config', join(dir, 'nope.json')], io);

    // Assess
    expect(code).toBe(EXIT_USAGE);
    expect(io.err.join('')).toContain('--config: cannot read');
  });
});
