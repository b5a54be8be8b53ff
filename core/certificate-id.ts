import { createHash, X509Certificate } from 'node:crypto';

/**
 * AWS IoT's certificate id: the SHA-256 of the certificate's DER bytes, in lower-case hex (the
 * fingerprint256 without its colons). Takes the PEM text, the parsed certificate (give it where
 * there is one: nothing is parsed twice), or DER bytes, which are hashed as given.
 */
export function certificateIdOf(certificate: string | X509Certificate | Uint8Array): string {
  const der = typeof certificate === 'string' ? new X509Certificate(certificate).raw : certificate instanceof X509Certificate ? certificate.raw : certificate;
  return createHash('sha256').update(der).digest('hex');
}
