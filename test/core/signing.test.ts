import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalRequestBytes, parsePublicKey, UnsupportedKey, verifySignature } from '@global-iot/core/signing.js';

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
