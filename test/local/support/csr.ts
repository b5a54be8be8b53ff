import './reflect-polyfill.js';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Certificate signing requests made with @peculiar/x509 and WebCrypto: an implementation
 * independent of the local cloud's own DER code, as a device's would be.
 */
export type CsrKeyType = 'rsa-2048' | 'ec-p256' | 'ec-p521' | 'rsa-1024';

const crypto = webcrypto;
/** @peculiar/x509 types its provider with the DOM's Crypto, which this project does not load. */
const provider = webcrypto as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1];

function algorithmOf(keyType: CsrKeyType): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  switch (keyType) {
    case 'rsa-2048':
    case 'rsa-1024':
      return {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: keyType === 'rsa-2048' ? 2048 : 1024,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
    case 'ec-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'ec-p521':
      return { name: 'ECDSA', namedCurve: 'P-521' };
  }
}

export interface DeviceCsr {
  readonly csrPem: string;
  /** PKCS#8 PEM of the key the CSR certifies. */
  readonly privateKeyPem: string;
}

export async function createCsr(keyType: CsrKeyType, commonName = 'device'): Promise<DeviceCsr> {
  const algorithm = algorithmOf(keyType);
  const keys = (await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const signingAlgorithm = algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : algorithm;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${commonName}`, keys, signingAlgorithm }, provider);
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const body = pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return { csrPem: csr.toString('pem'), privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n` };
}

/** The same CSR with one byte of its signature flipped: it still parses, but does not verify. */
export function tamperSignature(csrPem: string): string {
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const index = der.length - 3;
  der[index] = (der[index] ?? 0) ^ 0x01;
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${body}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** Parses a certificate with @peculiar/x509, to check what the local cloud issued. */
export function parseCertificate(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(pem);
}
