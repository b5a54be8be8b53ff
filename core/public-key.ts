import { createPublicKey, type KeyObject } from 'node:crypto';

/**
 * Public keys from SPKI, fast for the two key types every device here uses. OpenSSL 3 decodes a
 * PEM or DER key by trying its decoders one after another: about 140 µs for an EC P-256 key on
 * this machine, more under load, paid on every new device by the bootstrap (the device's
 * signing key) and by the local IoT (the key in each CSR). An SPKI for P-256 or Ed25519 is a
 * fixed header followed by the key bytes, so those two are recognised byte for byte and imported
 * as JWK (about 85 µs, the curve check included). Anything else goes to OpenSSL unchanged, so
 * what is accepted and refused stays exactly OpenSSL's.
 */

/** SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits, 65 bytes) }. */
const P256_SPKI_HEADER = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
/** SEQUENCE { SEQUENCE { id-Ed25519 }, BIT STRING (0 unused bits, 32 bytes) }. */
const ED25519_SPKI_HEADER = Buffer.from('302a300506032b6570032100', 'hex');
const P256_POINT_BYTES = 65;
const ED25519_KEY_BYTES = 32;
const UNCOMPRESSED_POINT = 0x04;

const PEM_PUBLIC_KEY = /^\s*-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END PUBLIC KEY-----\s*$/;

function b64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

function startsWith(der: Buffer, header: Buffer): boolean {
  return der.length >= header.length && der.subarray(0, header.length).equals(header);
}

/** The key of a DER SubjectPublicKeyInfo; throws as `createPublicKey` does on one it cannot use. */
export function publicKeyFromSpki(der: Buffer): KeyObject {
  if (der.length === P256_SPKI_HEADER.length + P256_POINT_BYTES && startsWith(der, P256_SPKI_HEADER)) {
    const point = der.subarray(P256_SPKI_HEADER.length);
    if (point[0] === UNCOMPRESSED_POINT) {
      return createPublicKey({
        key: { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33)) },
        format: 'jwk',
      });
    }
  }
  if (der.length === ED25519_SPKI_HEADER.length + ED25519_KEY_BYTES && startsWith(der, ED25519_SPKI_HEADER)) {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(der.subarray(ED25519_SPKI_HEADER.length)) }, format: 'jwk' });
  }
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/** The key of a PEM `PUBLIC KEY`; another PEM (or text) is left to `createPublicKey`. */
export function publicKeyFromPem(pem: string): KeyObject {
  const body = PEM_PUBLIC_KEY.exec(pem)?.[1];
  if (body !== undefined) {
    const der = Buffer.from(body.replace(/\r?\n/g, ''), 'base64');
    // Only a body that is canonical base64 of these bytes: anything odd is OpenSSL's to judge.
    if (der.toString('base64') === body.replace(/\r?\n/g, '')) return publicKeyFromSpki(der);
  }
  return createPublicKey({ key: pem, format: 'pem' });
}
