import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { publicKeyFromPem, publicKeyFromSpki } from '@global-iot/core/public-key.js';

const spki = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' });
const pem = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();

/** What OpenSSL makes of the same input: the key's SPKI, or the fact that it threw. */
function openssl(input: string | Buffer): Buffer | 'throws' {
  try {
    return spki(typeof input === 'string' ? createPublicKey({ key: input, format: 'pem' }) : createPublicKey({ key: input, format: 'der', type: 'spki' }));
  } catch {
    return 'throws';
  }
}
function ours(input: string | Buffer): Buffer | 'throws' {
  try {
    return spki(typeof input === 'string' ? publicKeyFromPem(input) : publicKeyFromSpki(input));
  } catch {
    return 'throws';
  }
}

describe('public keys from SPKI', () => {
  it.each([
    ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey],
    ['Ed25519', () => generateKeyPairSync('ed25519').publicKey],
    ['EC P-384 (through OpenSSL)', () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey],
    ['RSA 2048 (through OpenSSL)', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
  ])('reads %s keys exactly as OpenSSL does, from PEM and from DER', (_label, make) => {
    for (let i = 0; i < 5; i += 1) {
      // Prepare
      const key = make();

      // Act
      const fromPem = publicKeyFromPem(pem(key));
      const fromDer = publicKeyFromSpki(spki(key));

      // Assess
      expect(spki(fromPem).equals(spki(key))).toBe(true);
      expect(spki(fromDer).equals(spki(key))).toBe(true);
      expect(fromPem.asymmetricKeyType).toBe(key.asymmetricKeyType);
    }
  });

  it('refuses a P-256 point that is not on the curve, as OpenSSL does', () => {
    // Prepare: a valid header with the point's last byte changed.
    const der = Buffer.from(spki(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey));
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;

    // Act / Assess
    expect(openssl(der)).toBe('throws');
    expect(() => publicKeyFromSpki(der)).toThrow();
  });

  it('agrees with OpenSSL on every mutation of a P-256 or Ed25519 key, byte by byte', () => {
    const keys = [spki(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey), spki(generateKeyPairSync('ed25519').publicKey)];
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (der, at, flip, truncate) => {
        // Prepare
        const mutated = Buffer.from(der);
        const index = at % mutated.length;
        mutated[index] = (mutated[index] ?? 0) ^ flip;
        const input = truncate ? mutated.subarray(0, index) : mutated;

        // Act / Assess
        const expected = openssl(input);
        const actual = ours(input);
        if (expected === 'throws') expect(actual).toBe('throws');
        else expect(actual === 'throws' ? actual : actual.equals(expected)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it.each([
    ['text that is not PEM', 'hello'],
    ['a PEM private key', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['a PEM with a broken body', '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA!!!!\n-----END PUBLIC KEY-----\n'],
    ['an empty PEM', '-----BEGIN PUBLIC KEY-----\n\n-----END PUBLIC KEY-----\n'],
  ])('answers %s the way OpenSSL does', (_label, input) => {
    // Act / Assess
    const expected = openssl(input);
    const actual = ours(input);
    if (expected === 'throws') expect(actual).toBe('throws');
    else expect(actual !== 'throws' && actual.equals(expected)).toBe(true);
  });
});
