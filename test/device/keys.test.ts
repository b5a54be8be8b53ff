import 'reflect-metadata';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { Pkcs10CertificateRequest } from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { assertCertificateMatchesKey, certificateIdOf, generateKeyAndCsr, KeyMismatch } from '../../device/keys.js';
import { selfSignedDeviceCert } from './support/certs.js';

describe('generateKeyAndCsr', () => {
  it('makes a P-256 key and a self-signed CSR for it with CN = thing name', async () => {
    // Act
    const { privateKeyPem, csrPem } = await generateKeyAndCsr('sensor-0042');

    // Assess
    const key = createPrivateKey(privateKeyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const csr = new Pkcs10CertificateRequest(csrPem);
    expect(csr.subject).toBe('CN=sensor-0042');
    expect(await csr.verify()).toBe(true);
    const csrSpki = Buffer.from(csr.publicKey.rawData);
    const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    expect(csrSpki.equals(keySpki)).toBe(true);
  });

  it('takes every character a thing name may have literally', async () => {
    // Act
    const { csrPem } = await generateKeyAndCsr('a:b_c-D9');

    // Assess
    expect(new Pkcs10CertificateRequest(csrPem).subject).toBe('CN=a:b_c-D9');
  });

  it('makes a different key every time', async () => {
    // Act
    const [a, b] = await Promise.all([generateKeyAndCsr('x'), generateKeyAndCsr('x')]);

    // Assess
    expect(a.privateKeyPem).not.toBe(b.privateKeyPem);
  });
});

describe('assertCertificateMatchesKey', () => {
  it('accepts a certificate with its own key', async () => {
    // Prepare
    const { certificatePem, privateKeyPem } = await selfSignedDeviceCert();

    // Act
    const act = () => assertCertificateMatchesKey(certificatePem, privateKeyPem);

    // Assess
    expect(act).not.toThrow();
  });

  it('refuses a certificate for another key', async () => {
    // Prepare
    const [a, b] = await Promise.all([selfSignedDeviceCert(), selfSignedDeviceCert()]);

    // Act
    const act = () => assertCertificateMatchesKey(a.certificatePem, b.privateKeyPem);

    // Assess
    expect(act).toThrow(KeyMismatch);
  });

  it.each([
    ['certificate', 'not a cert', 'key'],
    ['private key', 'cert', 'not a key'],
  ])('refuses an invalid %s', async (_label, cert, key) => {
    // Prepare
    const real = await selfSignedDeviceCert();

    // Act
    const act = () =>
      assertCertificateMatchesKey(cert === 'cert' ? real.certificatePem : cert, key === 'key' ? real.privateKeyPem : key);

    // Assess
    expect(act).toThrow(KeyMismatch);
  });
});

describe('certificateIdOf', () => {
  it('is the SHA-256 of the DER certificate, lower-case hex (AWS IoT certificate id)', async () => {
    // Prepare
    const { certificatePem } = await selfSignedDeviceCert();
    const der = new X509Certificate(certificatePem).raw;

    // Act
    const id = certificateIdOf(certificatePem);

    // Assess
    expect(id).toBe(createHash('sha256').update(der).digest('hex'));
  });
});
