import { type KeyObject, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { BoundedCache } from './bounded-cache.js';
import { InvalidInput } from './errors.js';
import { type Measurement, measurementTenths } from './measurements.js';
import { publicKeyFromPem } from './public-key.js';

/**
 * The bootstrap request signature.
 *
 * Default (v1) format: the device signs the UTF-8 bytes of
 *
 *     "iot-bootstrap-v1" LF <thing-name> LF <timestamp>
 *
 * where LF is one 0x0A byte, <thing-name> is the thing name exactly as sent, and <timestamp> is
 * the request's `timestamp` (ms since the epoch) in decimal ASCII without sign, leading zeros or
 * exponent. Thing names cannot contain LF, so the bytes are unambiguous.
 *
 * Measurements (v2), for a request that carries handshake times (core/measurements.ts):
 *
 *     "iot-bootstrap-v2" LF <thing-name> LF <timestamp> (LF <region> "=" <ms>)+
 *
 * one line per measurement, sorted by region code (byte order), <ms> in decimal ASCII with at
 * most one digit after a point and no trailing zero after it (23.4, 95, never 95.0 or 095). A
 * region code holds neither LF nor "=", so the bytes are unambiguous; sorting makes them
 * independent of the order the device listed its figures in. A request without measurements
 * keeps v1.
 *
 * Legacy format (the original sample, off unless a deployment enables it): the signature is over
 * the raw thing-name bytes, with RSA PKCS#1 v1.5 / SHA-256. It carries no time, so a captured
 * request replays forever.
 */
export const SIGNING_CONTEXT = 'iot-bootstrap-v1';
export const SIGNING_CONTEXT_V2 = 'iot-bootstrap-v2';

export type SigningAlgorithm = 'rsa-pkcs1-sha256' | 'ecdsa-p256-sha256' | 'ed25519';

export interface VerificationKey {
  readonly key: KeyObject;
  readonly algorithm: SigningAlgorithm;
}

export function canonicalRequestBytes(thingName: string, timestamp: number): Buffer {
  return Buffer.from(`${SIGNING_CONTEXT}\n${thingName}\n${timestamp}`, 'utf8');
}

/** A measurement's time as the signed text: tenths exact, no trailing ".0". */
export function formatMeasurementMs(ms: number): string {
  const tenths = measurementTenths(ms);
  if (tenths === undefined || tenths < 0) throw new InvalidInput(`${String(ms)} ms is not a non-negative multiple of 0.1`);
  const whole = Math.floor(tenths / 10);
  const tenth = tenths % 10;
  return tenth === 0 ? String(whole) : `${whole}.${tenth}`;
}

/** The v2 bytes: v1's lines, then one `<region>=<ms>` line per measurement in region order. */
export function canonicalRequestBytesV2(thingName: string, timestamp: number, measurements: readonly Measurement[]): Buffer {
  if (measurements.length === 0) throw new InvalidInput('v2 signs measurements; sign a request without them as v1');
  const lines = [...measurements]
    .sort((a, b) => (a.region < b.region ? -1 : a.region > b.region ? 1 : 0))
    .map((m) => `${m.region}=${formatMeasurementMs(m.ms)}`);
  return Buffer.from(`${SIGNING_CONTEXT_V2}\n${thingName}\n${timestamp}\n${lines.join('\n')}`, 'utf8');
}

export function legacyRequestBytes(thingName: string): Buffer {
  return Buffer.from(thingName, 'utf8');
}

export class UnsupportedKey extends InvalidInput {
  override name = 'UnsupportedKey';
}

/** Chooses the algorithm from the key's type and refuses keys outside the supported set. */
export function toVerificationKey(key: KeyObject): VerificationKey {
  if (key.type !== 'public') throw new UnsupportedKey('a public key is required');
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < 2048 || bits > 4096) throw new UnsupportedKey(`RSA keys must be 2048 to 4096 bits, got ${bits}`);
      return { key, algorithm: 'rsa-pkcs1-sha256' };
    }
    case 'ec':
      if (details.namedCurve !== 'prime256v1') {
        throw new UnsupportedKey(`EC keys must be on P-256, got ${details.namedCurve ?? 'unknown'}`);
      }
      return { key, algorithm: 'ecdsa-p256-sha256' };
    case 'ed25519':
      return { key, algorithm: 'ed25519' };
    default:
      throw new UnsupportedKey(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'}`);
  }
}

const keyCache = new BoundedCache<string, VerificationKey>(10_000);

/**
 * Parses a PEM public key once and caches it: parsing costs far more than verifying, and the
 * same fleet keys and per-device keys come back on every request. Bounded, the least recently
 * used evicted; a key that does not parse is not cached.
 */
export function parsePublicKey(pem: string): VerificationKey {
  return keyCache.get(pem, () => {
    let key: KeyObject;
    try {
      key = publicKeyFromPem(pem);
    } catch (cause) {
      throw new UnsupportedKey('public key is not a valid PEM public key', { cause });
    }
    return toVerificationKey(key);
  });
}

/** Verifies a signature; any malformed signature is simply `false`, never an exception. */
export function verifySignature(vk: VerificationKey, data: Buffer, signature: Buffer): boolean {
  try {
    switch (vk.algorithm) {
      case 'rsa-pkcs1-sha256':
        return cryptoVerify('sha256', data, vk.key, signature);
      case 'ecdsa-p256-sha256':
        return cryptoVerify('sha256', data, { key: vk.key, dsaEncoding: 'der' }, signature);
      case 'ed25519':
        return cryptoVerify(null, data, vk.key, signature);
    }
  } catch {
    // OpenSSL throws on some malformed DER/RSA inputs; to the caller that is a bad signature.
    return false;
  }
}

/** Signs bootstrap bytes the way a device does (device client, fleet simulator, tests). */
export function signBytes(privateKey: KeyObject, data: Buffer): Buffer {
  switch (privateKey.asymmetricKeyType) {
    case 'rsa':
      return cryptoSign('sha256', data, privateKey);
    case 'ec':
      return cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'der' });
    case 'ed25519':
      return cryptoSign(null, data, privateKey);
    default:
      throw new UnsupportedKey(`unsupported key type ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
}

// A type, not an interface: callers pass it where a plain JSON record is expected.
export type SignedBootstrapRequest = {
  'thing-name': string;
  'thing-name-sig': string;
  timestamp: number;
  measurements?: Measurement[];
};

/** The body a device sends to the bootstrap service: v1, or v2 when it carries measurements. */
export function signedBootstrapRequest(
  privateKey: KeyObject,
  thingName: string,
  timestamp: number,
  measurements: readonly Measurement[] = [],
): SignedBootstrapRequest {
  if (measurements.length === 0) {
    const sig = signBytes(privateKey, canonicalRequestBytes(thingName, timestamp));
    return { 'thing-name': thingName, 'thing-name-sig': sig.toString('base64'), timestamp };
  }
  const sig = signBytes(privateKey, canonicalRequestBytesV2(thingName, timestamp, measurements));
  return { 'thing-name': thingName, 'thing-name-sig': sig.toString('base64'), timestamp, measurements: measurements.map(({ region, ms }) => ({ region, ms })) };
}
