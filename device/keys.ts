// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API
// installed before the library loads; imports evaluate in order, so this one must stay first.
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, webcrypto, X509Certificate } from 'node:crypto';
import { Pkcs10CertificateRequestGenerator } from '@peculiar/x509';
import { DeviceError } from './errors.js';

/**
 * The device's own key pair and the certificate signing request it sends AWS IoT: EC P-256
 * (what AWS IoT and small devices' TLS stacks all support) generated on the device, so the
 * private key never leaves it.
 */

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface DeviceKeyAndCsr {
  /** PKCS#8 PEM; stays on the device. */
  readonly privateKeyPem: string;
  /** PKCS#10 PEM with CN = thing name. */
  readonly csrPem: string;
}

export class KeyMismatch extends DeviceError {
  override name = 'KeyMismatch';
}

function pem(label: string, der: ArrayBuffer): string {
  const body = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** A fresh EC P-256 key pair and a CSR for it whose subject is `CN=<thingName>`. */
export async function generateKeyAndCsr(thingName: string): Promise<DeviceKeyAndCsr> {
  const keys = await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  const csr = await Pkcs10CertificateRequestGenerator.create(
    // The structured form, not "CN=..." text, so no character of the name is parsed as syntax.
    { name: [{ CN: [thingName] }], keys, signingAlgorithm: ECDSA_SHA256 },
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { privateKeyPem: pem('PRIVATE KEY', pkcs8), csrPem: csr.toString('pem') };
}

/**
 * Checks that a certificate (PEM) is for this private key (PEM): AWS IoT answers with a
 * certificate and the device must not store one it cannot use.
 */
export function assertCertificateMatchesKey(certificatePem: string, privateKeyPem: string): void {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch (cause) {
    throw new KeyMismatch('the certificate is not a valid PEM X.509 certificate', { cause });
  }
  let matches: boolean;
  try {
    matches = certificate.checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch (cause) {
    throw new KeyMismatch('the private key is not a valid PEM private key', { cause });
  }
  if (!matches) throw new KeyMismatch('the certificate is not for this private key');
}

/** The certificate's validity end, in ms since the epoch. */
export function certificateNotAfter(certificatePem: string): number {
  return Date.parse(new X509Certificate(certificatePem).validTo);
}

/** The SHA-256 fingerprint of the certificate's DER bytes, lower-case hex: AWS IoT's certificate id. */
export function certificateIdOf(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint256.replaceAll(':', '').toLowerCase();
}

/** The public key of a PEM private key, as SPKI PEM (what the registry stores for a signing key). */
export function publicKeyPemOf(privateKeyPem: string): string {
  return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'pem' }).toString();
}
