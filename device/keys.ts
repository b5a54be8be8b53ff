import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, sign, X509Certificate } from 'node:crypto';
import * as der from '@global-iot/core/der.js';
import { DeviceError } from './errors.js';

/**
 * The device's own key pair and the certificate signing request it sends AWS IoT: EC P-256
 * (what AWS IoT and small devices' TLS stacks all support) generated on the device, so the
 * private key never leaves it.
 */

const OID_COMMON_NAME = '2.5.4.3';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_PRIME256V1 = '1.2.840.10045.3.1.7';
/** AlgorithmIdentifier of an EC P-256 key: id-ecPublicKey with the named curve prime256v1. */
const EC_P256_ALGORITHM = der.sequence(der.oid('1.2.840.10045.2.1'), der.oid(OID_PRIME256V1));
const P256_SECRET_BYTES = 32;
/** The public point as a BIT STRING's content: no unused bits, 0x04 (uncompressed), x, y. */
const P256_POINT_BITS = 2 + 2 * P256_SECRET_BYTES;

export interface DeviceKeyAndCsr {
  /** PKCS#8 PEM; stays on the device. */
  readonly privateKeyPem: string;
  /** The same key, parsed: checking the certificate against it needs no second parse of the PEM. */
  readonly privateKey: KeyObject;
  /** PKCS#10 PEM with CN = thing name. */
  readonly csrPem: string;
}

export class KeyMismatch extends DeviceError {
  override name = 'KeyMismatch';
}

/**
 * The SubjectPublicKeyInfo and PKCS#8 encodings of a P-256 key, byte for byte what
 * `export({ type: 'spki' | 'pkcs8', format: 'der' })` writes (tests hold them to it), rebuilt
 * from its SEC1 (RFC 5915) encoding: OpenSSL 3's SPKI and PKCS#8 encoders cost ~140 us and
 * ~70 us per call, its SEC1 writer ~14 us, and all three are fixed layouts around the same
 * secret and public point.
 *
 * Not from `export({ format: 'jwk' })`, cheap as it is: Node 20 holds the key's lock while it
 * allocates the JWK's strings, and a garbage collection at that moment that finalises the
 * generateKeyPairSync job which made the key takes the same lock, so the process hangs (seen
 * within a few thousand keys when the heap is busy).
 */
function encodeP256(privateKey: KeyObject): { spki: Buffer; pkcs8: Buffer } {
  const sec1 = privateKey.export({ type: 'sec1', format: 'der' });
  // ECPrivateKey: version 1, the secret, [0] the curve, [1] the public point.
  const [version, secret, curve, point] = der.children(der.readWhole(sec1, der.TAG.SEQUENCE).value);
  const d = der.expectTag(secret, der.TAG.OCTET_STRING, 'privateKey').value;
  const publicKey = der.expectTag(der.children(der.expectTag(point, 0xa1, 'publicKey').value)[0], der.TAG.BIT_STRING, 'publicKey');
  if (
    !der.expectTag(version, der.TAG.INTEGER, 'version').raw.equals(der.smallInteger(1)) ||
    !der.expectTag(curve, 0xa0, 'parameters').value.equals(der.oid(OID_PRIME256V1)) ||
    d.length !== P256_SECRET_BYTES ||
    publicKey.value.length !== P256_POINT_BITS ||
    publicKey.value[0] !== 0x00 ||
    publicKey.value[1] !== 0x04
  ) {
    throw new Error('the key is not an EC P-256 private key with its public point');
  }
  // RFC 5915 ECPrivateKey inside RFC 5208 PrivateKeyInfo: the curve is named once, in the outer
  // algorithm, so [0] is left out, as OpenSSL writes it.
  const ecPrivateKey = der.sequence(der.smallInteger(1), der.octetString(d), der.explicit(1, publicKey.raw));
  return {
    spki: der.sequence(EC_P256_ALGORITHM, publicKey.raw),
    pkcs8: der.sequence(der.smallInteger(0), EC_P256_ALGORITHM, der.octetString(ecPrivateKey)),
  };
}

/**
 * The PKCS#10 request (RFC 2986) for the key whose SubjectPublicKeyInfo is `spki`, signed with
 * `privateKey`: version 1, subject `CN=<commonName>` as a UTF8String built from the value itself
 * (no character of it is read as name syntax), no attributes, ECDSA with SHA-256 (RFC 5758: no
 * algorithm parameters).
 */
function certificationRequest(commonName: string, spki: Buffer, privateKey: KeyObject): Buffer {
  const subject = der.sequence(der.set(der.sequence(der.oid(OID_COMMON_NAME), der.utf8String(commonName))));
  const info = der.sequence(
    der.smallInteger(0),
    subject,
    spki,
    // attributes [0] IMPLICIT SET OF Attribute: present, and empty.
    der.tlv(0xa0, Buffer.alloc(0)),
  );
  // ECDSA signatures come DER-encoded (dsaEncoding 'der'), as X.509 and PKCS#10 carry them.
  const signature = sign('sha256', info, privateKey);
  return der.sequence(info, der.sequence(der.oid(OID_ECDSA_WITH_SHA256)), der.bitString(signature));
}

/**
 * A fresh EC P-256 key pair and a CSR for it whose subject is `CN=<thingName>`. Built with
 * node:crypto and the DER writer: WebCrypto with a general ASN.1 library cost about seven times
 * the CPU (and thread-pool hops) for the same bytes, which a fleet simulator pays per device.
 */
export async function generateKeyAndCsr(thingName: string): Promise<DeviceKeyAndCsr> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const { spki, pkcs8 } = encodeP256(privateKey);
  return {
    privateKeyPem: der.toPem('PRIVATE KEY', pkcs8),
    privateKey,
    csrPem: der.toPem('CERTIFICATE REQUEST', certificationRequest(thingName, spki, privateKey)),
  };
}

/** Parses a PEM certificate; a `KeyMismatch` when it is none, so nothing unusable is stored. */
export function parseCertificate(certificatePem: string): X509Certificate {
  try {
    return new X509Certificate(certificatePem);
  } catch (cause) {
    throw new KeyMismatch('the certificate is not a valid PEM X.509 certificate', { cause });
  }
}

/** Parses a PEM private key; a `KeyMismatch` when it is none. */
export function parsePrivateKey(privateKeyPem: string): KeyObject {
  try {
    return createPrivateKey(privateKeyPem);
  } catch (cause) {
    throw new KeyMismatch('the private key is not a valid PEM private key', { cause });
  }
}

/**
 * Checks that a certificate is for this private key: AWS IoT answers with a certificate and the
 * device must not store one it cannot use. Either may be given as PEM or already parsed; a
 * caller that holds the parsed form passes it, so nothing is parsed twice.
 */
export function assertCertificateMatchesKey(certificate: string | X509Certificate, privateKey: string | KeyObject): void {
  const x509 = typeof certificate === 'string' ? parseCertificate(certificate) : certificate;
  const key = typeof privateKey === 'string' ? parsePrivateKey(privateKey) : privateKey;
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(key);
  } catch (cause) {
    throw new KeyMismatch('the key is not a private key', { cause });
  }
  if (!matches) throw new KeyMismatch('the certificate is not for this private key');
}

/**
 * AWS IoT's certificate id: the SHA-256 of the certificate's DER bytes, lower-case hex (the
 * fingerprint256 without its colons). Give the parsed certificate where there is one.
 */
export function certificateIdOf(certificate: string | X509Certificate): string {
  const x509 = typeof certificate === 'string' ? new X509Certificate(certificate) : certificate;
  return createHash('sha256').update(x509.raw).digest('hex');
}
