import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { InvalidInput } from '@global-iot/core/errors.js';
import {
  canonicalRequestBytes,
  canonicalRequestBytesV2,
  formatMeasurementMs,
  parsePublicKey,
  signedBootstrapRequest,
  UnsupportedKey,
  verifySignature,
} from '@global-iot/core/signing.js';

describe('canonical request bytes', () => {
  it('match the vector documented in the README byte for byte', () => {
    const bytes = canonicalRequestBytes('sensor-0042', 1795000000000);
    expect(bytes.length).toBe(42);
    expect(bytes.toString('hex').match(/../g)?.join(' ')).toBe(
      '69 6f 74 2d 62 6f 6f 74 73 74 72 61 70 2d 76 31 0a 73 65 6e 73 6f 72 2d 30 30 34 32 0a 31 37 39 35 30 30 30 30 30 30 30 30 30',
    );
  });

  it('verify a signature made by the shell recipe in the README (EC key, openssl)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sig-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const sig = execFileSync('sh', ['-c', `printf 'iot-bootstrap-v1\\n%s\\n%s' "$THING" "$TS" | openssl dgst -sha256 -sign "$KEY" | base64 -w0`], {
      env: { ...process.env, THING: 'sensor-0042', TS: '1795000000000', KEY: join(dir, 'key.pem') },
    }).toString();
    const key = parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    expect(verifySignature(key, canonicalRequestBytes('sensor-0042', 1795000000000), Buffer.from(sig, 'base64'))).toBe(true);
    expect(verifySignature(key, canonicalRequestBytes('sensor-0042', 1795000000001), Buffer.from(sig, 'base64'))).toBe(false);
  });
});

describe('canonical request bytes, v2 (with measurements)', () => {
  const MEASURED = [
    { region: 'us-east-1', ms: 95 },
    { region: 'eu-central-1', ms: 23.4 },
  ];

  it('match the vector documented in the README byte for byte', () => {
    // Prepare / Act
    const bytes = canonicalRequestBytesV2('sensor-0042', 1795000000000, MEASURED);

    // Assess
    expect(bytes.toString('utf8')).toBe('iot-bootstrap-v2\nsensor-0042\n1795000000000\neu-central-1=23.4\nus-east-1=95');
    expect(bytes.length).toBe(73);
    expect(bytes.toString('hex').match(/../g)?.join(' ')).toBe(
      '69 6f 74 2d 62 6f 6f 74 73 74 72 61 70 2d 76 32 0a 73 65 6e 73 6f 72 2d 30 30 34 32 0a 31 37 39 35 30 30 30 30 30 30 30 30 30 0a ' +
        '65 75 2d 63 65 6e 74 72 61 6c 2d 31 3d 32 33 2e 34 0a 75 73 2d 65 61 73 74 2d 31 3d 39 35',
    );
  });

  it('do not depend on the order the device listed its figures in', () => {
    // Prepare
    const reversed = [...MEASURED].reverse();

    // Act
    const a = canonicalRequestBytesV2('sensor-0042', 1795000000000, MEASURED);
    const b = canonicalRequestBytesV2('sensor-0042', 1795000000000, reversed);

    // Assess
    expect(b.equals(a)).toBe(true);
  });

  it.each<[number, string]>([
    [95, '95'],
    [95.0, '95'],
    [23.4, '23.4'],
    [1, '1'],
    [10000, '10000'],
    [0.1 + 0.2, '0.3'],
    [120.5, '120.5'],
  ])('write %j ms as %s', (ms, text) => {
    // Prepare / Act
    const written = formatMeasurementMs(ms);

    // Assess
    expect(written).toBe(text);
  });

  it('refuse a time with more than one decimal and an empty list', () => {
    // Prepare
    const twoDecimals = (): unknown => formatMeasurementMs(23.45);
    const empty = (): unknown => canonicalRequestBytesV2('sensor-0042', 1795000000000, []);

    // Act / Assess
    expect(twoDecimals).toThrow(InvalidInput);
    expect(empty).toThrow(/sign a request without them as v1/);
  });

  it('cover every figure: a changed time or region does not verify, nor do v1 bytes', () => {
    // Prepare
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const key = parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const body = signedBootstrapRequest(privateKey, 'sensor-0042', 1795000000000, MEASURED);
    const sig = Buffer.from(body['thing-name-sig'], 'base64');

    // Act
    const genuine = verifySignature(key, canonicalRequestBytesV2('sensor-0042', 1795000000000, body.measurements ?? []), sig);
    const faster = verifySignature(key, canonicalRequestBytesV2('sensor-0042', 1795000000000, [{ region: 'us-east-1', ms: 9.5 }, MEASURED[1] ?? { region: '', ms: 1 }]), sig);
    const dropped = verifySignature(key, canonicalRequestBytesV2('sensor-0042', 1795000000000, MEASURED.slice(1)), sig);
    const asV1 = verifySignature(key, canonicalRequestBytes('sensor-0042', 1795000000000), sig);

    // Assess
    expect(body.measurements).toEqual(MEASURED);
    expect([genuine, faster, dropped, asV1]).toEqual([true, false, false, false]);
  });

  it('leave a request without measurements in v1', () => {
    // Prepare
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const key = parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString());

    // Act
    const body = signedBootstrapRequest(privateKey, 'sensor-0042', 1795000000000);

    // Assess
    expect('measurements' in body).toBe(false);
    expect(verifySignature(key, canonicalRequestBytes('sensor-0042', 1795000000000), Buffer.from(body['thing-name-sig'], 'base64'))).toBe(true);
  });

  it('verify a signature made by the shell recipe in the README (EC key, openssl)', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'sig-v2-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const recipe = `printf 'iot-bootstrap-v2\\n%s\\n%s\\n%s' "$THING" "$TS" "$(printf '%s\\n' "$@" | LC_ALL=C sort)" | openssl dgst -sha256 -sign "$KEY" | base64 -w0`;

    // Act
    const sig = execFileSync('sh', ['-c', recipe, 'sh', 'us-east-1=95', 'eu-central-1=23.4'], {
      env: { ...process.env, THING: 'sensor-0042', TS: '1795000000000', KEY: join(dir, 'key.pem') },
    }).toString();

    // Assess
    const key = parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    expect(verifySignature(key, canonicalRequestBytesV2('sensor-0042', 1795000000000, MEASURED), Buffer.from(sig, 'base64'))).toBe(true);
  });
});

describe('public keys', () => {
  it('refuses garbage, private keys and unsupported curves', () => {
    expect(() => parsePublicKey('not a key')).toThrow(UnsupportedKey);
    const ed448 = generateKeyPairSync('ed448').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => parsePublicKey(ed448)).toThrow(/unsupported key type/);
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => parsePublicKey(rsa1024)).toThrow(/2048 to 4096/);
  });

  it('treats malformed signatures as a plain false', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const key = parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    for (const sig of [Buffer.alloc(0), Buffer.from([0x30, 0xff, 0x00]), Buffer.alloc(4096, 7)]) {
      expect(verifySignature(key, Buffer.from('x'), sig)).toBe(false);
    }
  });
});
