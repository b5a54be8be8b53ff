import { createPrivateKey, generateKeyPair, type KeyObject, sign, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import * as der from '@global-iot/core/der.js';
import { DeviceError } from './errors.js';

/**
 * The device's own key pair and the certificate signing request it sends AWS IoT: EC P-256
 * (what AWS IoT and small devices' TLS stacks all support) generated on the device, so the
 * private key never leaves it.
 */

const generateKeyPairAsync = promisify(generateKeyPair);

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
 * The PKCS#10 request (RFC 2986) for the key whose SubjectPublicKeyInfo is `spki`, signed with
 * `privateKey`: version 1, subject `CN=<commonName>` as a UTF8String built from the value itself
 * (no character of it is read as name syntax), no attributes, ECDSA with SHA-256 (RFC 5758: no
 * algorithm parameters). node:crypto signs but writes no PKCS#10, and the request is three
 * fixed layers around the key: the DER writer in core/ builds them, where a certificate library
 * would bring about 5 MB of ASN.1 schema packages and a global reflect-metadata polyfill onto
 * every device image.
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
 * A fresh EC P-256 key pair and a CSR for it whose subject is `CN=<thingName>`. OpenSSL writes
 * the key (PKCS#8 PEM) and the public key (SubjectPublicKeyInfo) through node:crypto; the key
 * is made off the main thread.
 */
export async function generateKeyAndCsr(thingName: string): Promise<DeviceKeyAndCsr> {
  const { publicKey: spki, privateKey: privateKeyPem } = await generateKeyPairAsync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const privateKey = createPrivateKey(privateKeyPem);
  return {
    privateKeyPem,
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
