import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certificateIdOf } from '@global-iot/core/certificate-id.js';
import { createCertificateAuthority, generateDeviceKey, issueClientCertificate } from '@global-iot/local/pki.js';
import { selfSignedDeviceCert } from '../device/support/certs.js';

describe('certificateIdOf', () => {
  it('is the SHA-256 of the DER certificate, lower-case hex (AWS IoT certificate id)', async () => {
    // Prepare
    const { certificatePem } = await selfSignedDeviceCert();
    const certificateDer = new X509Certificate(certificatePem).raw;

    // Act
    const id = certificateIdOf(certificatePem);

    // Assess
    expect(id).toBe(createHash('sha256').update(certificateDer).digest('hex'));
  });

  it('is the same from the PEM, the parsed certificate and the DER bytes, and equals fingerprint256 without colons', async () => {
    // Prepare
    const { certificatePem } = await selfSignedDeviceCert();
    const certificate = new X509Certificate(certificatePem);

    // Act
    const ids = [certificateIdOf(certificatePem), certificateIdOf(certificate), certificateIdOf(certificate.raw)];

    // Assess
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toBe(certificate.fingerprint256.replaceAll(':', '').toLowerCase());
    expect(ids[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("is the id the local cloud gives the certificates it issues, which the device checks AWS's answer against", async () => {
    // Prepare
    const ca = createCertificateAuthority({ commonName: 'test device CA' }, new Date());
    const key = await generateDeviceKey('ec-p256');

    // Act
    const issued = issueClientCertificate(ca, key.spki, new Date());

    // Assess
    expect(certificateIdOf(issued.certificatePem)).toBe(issued.certificateId);
  });

  it('refuses PEM text that holds no certificate', () => {
    // Act
    const act = () => certificateIdOf('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');

    // Assess
    expect(act).toThrow();
  });
});
