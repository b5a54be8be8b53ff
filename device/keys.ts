import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, X509Certificate } from 'node:crypto';
import * as der from '../core/der.js';
import { DeviceError } from './errors.js';

/**
 * The device's own key pair and the certificate signing request it sends AWS IoT: EC P-256
 * (what AWS IoT and small devices' TLS stacks all support) generated on the device, so the
 * private key never leaves it.
 */

const OID_COMMON_NAME = '2.5.4.3';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

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
 * The PKCS#10 request (RFC 2986) for `publicKey`, signed with `privateKey`: version 1, subject
 * `CN=<commonName>` as a UTF8String built from the value itself (no character of it is read as
 * name syntax), no attributes, ECDSA with SHA-256 (RFC 5758: no algorithm parameters).
 */
function certificationRequest(commonName: string, publicKey: KeyObject, privateKey: KeyObject): Buffer {
  const subject = der.sequence(der.set(der.sequence(der.oid(OID_COMMON_NAME), der.utf8String(commonName))));
  const info = der.sequence(
    der.smallInteger(0),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    // attributes [0] IMPLICIT SET OF Attribute: present, and empty.
    der.tlv(0xa0, Buffer.alloc(0)),
  );
  // ECDSA signatures come DER-encoded (dsaEncoding 'der'), as X.509 and PKCS#10 carry them.
  const signature = sign('sha256', info, privateKey);
  return der.sequence(info, der.sequence(der.oid(OID_ECDSA_WITH_SHA256)), der.bitString(signature));
}

/**
 * A fresh EC P-256 key pair and a CSR for it whose subject is `CN=<thingName>`. Built with
 * node:crypto and the DER writer: WebCrypto with a general ASN.1 library cost three times the
 * CPU (and thread-pool hops) for the same bytes, which a fleet simulator pays per device.
 */
export async function generateKeyAndCsr(thingName: string): Promise<DeviceKeyAndCsr> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const csr = certificationRequest(thingName, publicKey, privateKey);
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    privateKey,
    csrPem: der.toPem('CERTIFICATE REQUEST', csr),
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

/** The certificate's validity end, in ms since the epoch. */
export function certificateNotAfter(certificatePem: string): number {
  return Date.parse(new X509Certificate(certificatePem).validTo);
}

/**
 * AWS IoT's certificate id: the SHA-256 of the certificate's DER bytes, lower-case hex (the
 * fingerprint256 without its colons). Give the parsed certificate where there is one.
 */
export function certificateIdOf(certificate: string | X509Certificate): string {
  const x509 = typeof certificate === 'string' ? new X509Certificate(certificate) : certificate;
  return createHash('sha256').update(x509.raw).digest('hex');
}

/** The public key of a PEM private key, as SPKI PEM (what the registry stores for a signing key). */
export function publicKeyPemOf(privateKeyPem: string): string {
  return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'pem' }).toString();
}
